"""Command groups beyond the core ones in `hallwatch.cli`, one module per area (users, records,
grafana, eval, bench, ...). Each module defines

    def register(commands) -> None

which adds its sub-parsers (with `set_defaults(func=...)`) to the top-level `hallwatch` commands.
Modules are found by name, so an area adds its commands without editing the CLI."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from pathlib import Path


def register_all(commands: argparse._SubParsersAction) -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(commands)


def data_dir_option(parser: argparse.ArgumentParser, default: str = "the user data directory") -> None:
    """`--data-dir`: where the embedded database lives, for every command that opens the database."""
    parser.add_argument("--data-dir", type=Path, help=f"embedded database location (default: {default}); "
                                                     "ignored when HALLWATCH_DATABASE_URL is set")
