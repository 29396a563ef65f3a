"""Waiting in tests for a state seen from outside (a reader's health, a writer's counts, a server's
answer), without sleeping longer than the event takes."""

from __future__ import annotations

import time
from collections.abc import Callable


def await_true(check: Callable[[], object], timeout_s: float, what: str) -> float:
    """Wait until `check()` holds; fail naming `what` after `timeout_s`. Returns the seconds waited."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started >= timeout_s:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.02)
    return time.monotonic() - started
