"""Prometheus metrics (`metrics:` in the site file). The web app always answers `/metrics` (to a
province-scope admin or centre operator: a token or a session); a `hallwatch worker` serves its own
process's metrics only when `worker_port` is set, on `worker_host` (this machine only by default)."""

from __future__ import annotations

from ipaddress import ip_address

from pydantic import Field, field_validator

from core.config.base import Strict


class MetricsConfig(Strict):
    worker_port: int | None = Field(
        default=None, ge=1, le=65535,
        description="port on which each `hallwatch worker` serves its own metrics (detector latency and queue, "
                    "decoded fps of its cameras, spool, writer); none: not served. Workers on one machine need "
                    "one port each: the worker's rank among them is not known, so run them in containers or "
                    "give each its own site file")
    worker_host: str = Field(
        default="127.0.0.1",
        description="address the worker's metrics listen on: 127.0.0.1 keeps them on this machine; 0.0.0.0 for "
                    "a Prometheus elsewhere (they carry hall and camera ids, never URLs or credentials: keep "
                    "the port on the cluster's own network)")
    login_window_s: float = Field(
        default=900.0, gt=0.0, le=86400.0,
        description="`hallwatch_login_failures` counts the failed logins and token requests of this many "
                    "seconds back")

    @field_validator("worker_host")
    @classmethod
    def _an_address(cls, value: str) -> str:
        ip_address(value)  # ValueError names the value: "does not appear to be an IPv4 or IPv6 address"
        return value

