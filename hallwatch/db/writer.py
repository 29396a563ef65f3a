"""A background writer so that analysis never waits on the database.

Samples go into a bounded in-memory buffer; a thread writes them in batches. While the database is
unreachable the batch is kept and retried with backoff; when the buffer is full the oldest samples
are dropped and counted, with a warning (durable spooling to disk is the ingest-at-scale work)."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterable

from psycopg_pool import ConnectionPool

from hallwatch.db.samples import Sample, insert_samples
from hallwatch.redact import redact_text

log = logging.getLogger(__name__)


class SampleWriter:
    def __init__(
        self, pool: ConnectionPool, *, max_pending: int = 200_000, batch_size: int = 5_000,
        flush_interval_s: float = 0.5, retry_max_s: float = 10.0,
    ) -> None:
        self._pool = pool
        self._pending: deque[Sample] = deque()
        self._max_pending = max_pending
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._retry_max_s = retry_max_s
        self._lock = threading.Condition()
        self._stopping = False
        self._in_flight = 0
        self.dropped = 0
        self.written = 0
        self._thread = threading.Thread(target=self._run, name="db-writer", daemon=True)

    def start(self) -> SampleWriter:
        self._thread.start()
        return self

    def put(self, samples: Iterable[Sample]) -> None:
        with self._lock:
            self._pending.extend(samples)
            overflow = len(self._pending) - self._max_pending
            if overflow > 0:
                for _ in range(overflow):
                    self._pending.popleft()
                if self.dropped == 0 or (self.dropped + overflow) // 10_000 > self.dropped // 10_000:
                    log.warning("database writer buffer full: dropped %d oldest samples so far",
                                self.dropped + overflow)
                self.dropped += overflow
            if len(self._pending) >= self._batch_size:
                self._lock.notify()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything put so far is written; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            self._lock.notify()
            while self._pending or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(min(remaining, 0.1))
        return True

    def close(self, timeout_s: float = 10.0) -> None:
        self.flush(timeout_s)
        with self._lock:
            self._stopping = True
            self._lock.notify()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        backoff = self._flush_interval_s
        while True:
            with self._lock:
                if not self._pending and not self._stopping:
                    self._lock.wait(self._flush_interval_s)
                if self._stopping and not self._pending:
                    return
                batch = [self._pending.popleft() for _ in range(min(self._batch_size, len(self._pending)))]
                self._in_flight = len(batch)
            if not batch:
                continue
            try:
                with self._pool.connection(timeout=5.0) as conn:
                    insert_samples(conn, batch)
            except Exception as exc:
                log.warning("cannot write %d samples, retrying in %.1f s: %s",
                            len(batch), backoff, redact_text(str(exc)))
                with self._lock:
                    self._pending.extendleft(reversed(batch))
                    self._in_flight = 0
                    if self._stopping:
                        return
                    self._lock.wait(backoff)
                backoff = min(backoff * 2, self._retry_max_s)
                continue
            backoff = self._flush_interval_s
            with self._lock:
                self.written += len(batch)
                self._in_flight = 0
                self._lock.notify_all()
