"""Secrets that slipped through redaction before: a password holding '@', libpq key=value strings,
and tracebacks in the log."""

from __future__ import annotations

import io
import logging

import pytest

from core.logs import RedactingFilter
from core.redact import redact_text, redact_url


@pytest.mark.parametrize(
    ("text", "secret", "expected"),
    [
        ("open rtsp://admin:p@ss@10.0.0.1/s1 failed", "ss@10", "open rtsp://admin:***@10.0.0.1/s1 failed"),
        ("rtsp://u:a@b@c@h:554/x?y=z@w", "a@b@c", "rtsp://u:***@h:554/x?y=z@w"),
        ("connection failed: host=db user=hw password=hunter2 dbname=x", "hunter2",
         "connection failed: host=db user=hw password=*** dbname=x"),
        ("dsn: password='two words' host=db", "two words", "dsn: password=*** host=db"),
    ],
)
def test_redact_text_leaves_no_part_of_the_password(text: str, secret: str, expected: str) -> None:
    masked = redact_text(text)
    assert secret not in masked
    assert masked == expected


def test_redact_url_with_at_in_password() -> None:
    assert redact_url("rtsp://admin:p@ss@10.0.0.1:554/s1") == "rtsp://admin:***@10.0.0.1:554/s1"


def test_tracebacks_are_masked_in_the_log() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    log = logging.getLogger("test.redact.traceback")
    log.addHandler(handler)
    log.propagate = False
    try:
        try:
            raise RuntimeError("cannot open rtsp://admin:s3cr@t@10.0.0.9/x with password=hunter2")
        except RuntimeError:
            log.exception("camera failed")
        log.warning("where", stack_info=True, extra={})
    finally:
        log.removeHandler(handler)
    written = stream.getvalue()
    assert "RuntimeError: cannot open rtsp://admin:***@10.0.0.9/x with password=***" in written
    assert "s3cr" not in written and "hunter2" not in written
