"""Benchmarks behind `hallwatch bench ...`: each module measures one part on this machine and
reports numbers with the machine facts they depend on (see docs/benchmarks.md)."""
