import logging

import pytest

from core.logs import RedactingFilter
from core.redact import redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rtsp://admin:secret@10.0.0.1:554/s1", "rtsp://admin:***@10.0.0.1:554/s1"),
        ("rtsp://10.0.0.1/s1", "rtsp://10.0.0.1/s1"),
        ("rtsp://user@10.0.0.1/s1", "rtsp://user@10.0.0.1/s1"),
        ("postgresql://hw:pa:ss@db/hallwatch", "postgresql://hw:***@db/hallwatch"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redact_text_masks_every_url() -> None:
    text = "failed rtsp://a:b1@h/x then rtsp://c:d2@h/y and http://plain/z"
    assert redact_text(text) == "failed rtsp://a:***@h/x then rtsp://c:***@h/y and http://plain/z"


def test_log_filter_masks_arguments() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "open %s", ("rtsp://u:pw@h/s",), None)
    RedactingFilter().filter(record)
    assert record.getMessage() == "open rtsp://u:***@h/s"
