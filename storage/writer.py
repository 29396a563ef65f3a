"""A background writer so that analysis never waits on the database or the disk.

`put()` only appends to a bounded in-memory buffer; a thread stores the samples in batches with
binary COPY. When the database cannot take a batch, that batch and everything put after it go to
a spool on local disk (`storage.spool`) while the thread retries with backoff; once the
database answers, the spool is written back oldest segment first, before any newer sample, and
each segment is deleted once stored. Inserts are idempotent, so a crash between storing a segment
and deleting it cannot duplicate rows. Spools left by earlier processes are replayed first.

Samples are lost only when the spool is full (its oldest segment goes, with a warning naming how
many samples), when the memory buffer overflows because the thread is stuck (the oldest go,
counted, with a warning), or when the database rejects a sample as invalid (`rejected`)."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from core.redact import redact_text
from pipeline.rows import Sample
from storage.samples import copy_samples
from storage.spool import Spool, open_spools

log = logging.getLogger(__name__)


def spool_target(pool: ConnectionPool) -> str:
    """What names the database a spool is for: the pool's connection parameters that say where
    the data goes (host, port, database, user), never the password."""
    conninfo = pool.conninfo if isinstance(pool.conninfo, str) else ""  # not a callable's: no calls here
    kwargs = pool.kwargs if isinstance(pool.kwargs, dict) else {}
    try:
        params = {**conninfo_to_dict(conninfo), **kwargs}
    except psycopg.ProgrammingError:
        params = dict(kwargs)
    keep = ("service", "host", "hostaddr", "port", "dbname", "user")
    return " ".join(f"{key}={params[key]}" for key in keep if params.get(key) not in (None, ""))


class SampleWriter:
    def __init__(
        self, pool: ConnectionPool, *, spool_dir: Path | None = None, max_pending: int = 200_000,
        batch_size: int = 50_000, flush_interval_s: float = 0.5, retry_max_s: float = 10.0,
        max_spool_bytes: int = 1 << 30, connect_timeout_s: float = 2.0,
    ) -> None:
        """`spool_dir` is the spool root, by default `<data dir>/spool` (this writer takes a free
        slot in it); `max_spool_bytes` bounds this writer's spool; `batch_size` is the most samples
        stored in one transaction; `connect_timeout_s` bounds the wait for a pooled connection."""
        for name, value in (("max_pending", max_pending), ("batch_size", batch_size),
                            ("flush_interval_s", flush_interval_s), ("retry_max_s", retry_max_s),
                            ("connect_timeout_s", connect_timeout_s)):
            if value <= 0:
                raise ValueError(f"{name} must be positive, not {value}")
        if spool_dir is None:
            from storage.server import default_data_dir

            spool_dir = default_data_dir() / "spool"
        self._pool = pool
        self._spool, left = open_spools(spool_dir, target=spool_target(pool), max_bytes=max_spool_bytes)
        # Spools of writers that are gone, replayed before this one's; a tuple, replaced (never
        # changed in place), so that other threads can read it while the writer thread works.
        self._left: tuple[Spool, ...] = tuple(left)
        self._left_dropped = 0
        if self._spool.pending or left:
            log.info("replaying %d samples left in the spool %s by an earlier run",
                     self.spool_pending, spool_dir)
        self._pending: deque[Sample] = deque()
        self._max_pending = max_pending
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._retry_max_s = retry_max_s
        self._connect_timeout_s = connect_timeout_s
        self._lock = threading.Condition()
        self._stopping = False
        self._in_flight = 0  # taken from the buffer, neither stored nor spooled yet
        self._outage_since: float | None = None  # monotonic time the database stopped answering
        self._spool_failing = False
        self._dropped_in_memory = 0
        self.written = 0   # samples stored (counting those replayed from the spool)
        self.spooled = 0   # samples this writer put into the spool
        self.replayed = 0  # samples stored from the spool (this run's or an earlier one's)
        self.rejected = 0  # samples the database refused as invalid (a bug upstream)
        self._thread = threading.Thread(target=self._run, name="db-writer", daemon=True)

    # -- the caller's side: never waits on the database or the disk

    @property
    def dropped(self) -> int:
        """Samples lost: the oldest of a full memory buffer or of a full spool."""
        return (self._dropped_in_memory + self._spool.dropped + self._left_dropped
                + sum(spool.dropped for spool in self._left))

    @property
    def spool_pending(self) -> int:
        """Samples in the spool now (this writer's and those left by earlier ones), waiting for
        the database."""
        return self._spool.pending + sum(spool.pending for spool in self._left)

    @property
    def spool_dir(self) -> Path:
        """This writer's own slot of the spool root."""
        return self._spool.directory

    @property
    def batch_size(self) -> int:
        return self._batch_size

    def start(self) -> SampleWriter:
        self._thread.start()
        return self

    def put(self, samples: Iterable[Sample]) -> None:
        with self._lock:
            self._pending.extend(samples)
            self._trim_memory()
            if len(self._pending) >= self._batch_size:
                self._lock.notify()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything put so far, and the spool, is stored; False on timeout (as long
        as the database is down)."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            self._lock.notify()
            while self._pending or self._in_flight or self.spool_pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(min(remaining, 0.1))
        return True

    def close(self, timeout_s: float = 10.0) -> None:
        """Flush; whatever the database did not take by then stays in the spool for the next start."""
        started = self._thread.ident is not None
        if started:
            self.flush(timeout_s)
        with self._lock:
            self._stopping = True
            self._lock.notify()
        if started:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.warning("database writer still busy after %.1f s; it will spool what is left", timeout_s)
        else:
            self._shutdown()

    # -- the writer thread

    def _run(self) -> None:
        try:
            self._loop()
        except Exception:
            log.exception("database writer failed; spooling what is left")
        finally:
            self._shutdown()

    def _loop(self) -> None:
        backoff = self._flush_interval_s
        retry_at = 0.0
        while True:
            with self._lock:
                if not self._stopping:
                    if self._outage_since is not None:
                        wait = min(self._flush_interval_s, retry_at - time.monotonic())
                        if wait > 0 and len(self._pending) < self._batch_size:
                            self._lock.wait(wait)
                    elif not self._pending and not self.spool_pending:
                        self._lock.wait(self._flush_interval_s)
                if self._stopping:
                    return
            if self._outage_since is not None:
                self._spill()  # while the database is away, the buffer goes to disk
                if time.monotonic() < retry_at:
                    continue
                if not self._database_answers():  # a cheap probe before reading a segment back
                    retry_at, backoff = time.monotonic() + backoff, min(backoff * 2, self._retry_max_s)
                    continue
                log.info("database answers again after %.1f s; writing back %d spooled samples%s",
                         time.monotonic() - self._outage_since, self.spool_pending,
                         f" ({self.dropped} samples lost so far)" if self.dropped else "")
            error = self._step()
            if error is None:
                self._outage_since = None
                backoff = self._flush_interval_s
                continue
            log.debug("database still unavailable (%s); next try in %.1f s", error, backoff)
            retry_at, backoff = time.monotonic() + backoff, min(backoff * 2, self._retry_max_s)

    def _step(self) -> str | None:
        """Store the oldest spooled segment or, when no spool holds any, one batch from the
        buffer; the error when the database did not take it."""
        if self._left:
            return self._noted(self._replay(self._left[0]))
        if self._spool.pending:
            return self._noted(self._replay(self._spool))
        with self._lock:
            batch = [self._pending.popleft() for _ in range(min(self._batch_size, len(self._pending)))]
            self._in_flight = len(batch)
        if not batch:
            return None
        rejected = self.rejected
        error = self._store(batch)
        if error is None:
            with self._lock:
                self.written += len(batch) - (self.rejected - rejected)
                self._in_flight = 0
                self._lock.notify_all()
        else:
            self._noted(error)
            self._to_spool(batch)
        return error

    def _noted(self, error: str | None) -> str | None:
        """Log the start of an outage (once)."""
        if error is not None and self._outage_since is None:
            self._outage_since = time.monotonic()
            log.warning("cannot write to the database (%s): spooling samples to %s until it answers",
                        error, self._spool.directory)
        return error

    def _replay(self, spool: Spool) -> str | None:
        """Store the oldest segment of a spool, then delete it."""
        if len(self._pending) >= self._max_pending // 2:
            self._spill()  # behind the spool in order, instead of overflowing while it drains
        segment = spool.oldest()
        if segment is not None:
            rejected = self.rejected
            error = self._store(segment.samples)
            if error is not None:
                return error
            spool.remove(segment)
            with self._lock:
                self.written += len(segment.samples) - (self.rejected - rejected)
                self.replayed += len(segment.samples) - (self.rejected - rejected)
                self._lock.notify_all()
        if spool is not self._spool and not spool.pending:
            self._left = self._left[1:]
            self._left_dropped += spool.dropped
            spool.close()
        return None

    def _store(self, samples: Sequence[Sample]) -> str | None:
        """Store in transactions of at most `batch_size`; the (redacted) error on failure."""
        try:
            with self._pool.connection(timeout=self._connect_timeout_s) as conn:
                for start in range(0, len(samples), self._batch_size):
                    self._store_valid(conn, samples[start:start + self._batch_size])
        except Exception as exc:
            return redact_text(str(exc)) or type(exc).__name__
        return None

    def _store_valid(self, conn: psycopg.Connection, samples: Sequence[Sample]) -> None:
        """Store a batch; when the database refuses a value, store all the others (by halving)."""
        try:
            copy_samples(conn, samples)
        except (psycopg.DataError, psycopg.IntegrityError, psycopg.ProgrammingError) as exc:
            if isinstance(exc, psycopg.ProgrammingError) and exc.sqlstate is not None:
                raise  # e.g. a missing table: the database is not ready, the data is fine
            if len(samples) > 1:
                middle = len(samples) // 2
                self._store_valid(conn, samples[:middle])
                self._store_valid(conn, samples[middle:])
                return
            with self._lock:
                self.rejected += 1
            if self.rejected <= 10 or self.rejected % 1000 == 0:
                log.warning("the database rejected a sample (%d so far): %r: %s",
                            self.rejected, samples[0], redact_text(str(exc)))

    def _database_answers(self) -> bool:
        try:
            with self._pool.connection(timeout=self._connect_timeout_s) as conn:
                conn.execute("SELECT 1")
        except Exception:
            return False
        return True

    def _spill(self) -> None:
        with self._lock:
            batch = list(self._pending)
            self._pending.clear()
            self._in_flight = len(batch)
        if batch:
            self._to_spool(batch)

    def _to_spool(self, batch: list[Sample]) -> None:
        """Append to the spool; if the disk fails too, back to the front of the buffer."""
        try:
            self._spool.append(batch)
        except OSError as exc:
            if not self._spool_failing:
                log.error("cannot spool %d samples to %s (%s): keeping them in memory",
                          len(batch), self._spool.directory, exc)
            self._spool_failing = True
            with self._lock:
                self._pending.extendleft(reversed(batch))
                self._trim_memory()
                self._in_flight = 0
            return
        self._spool_failing = False
        with self._lock:
            self.spooled += len(batch)
            self._in_flight = 0
            self._lock.notify_all()

    def _trim_memory(self) -> None:
        """Drop the oldest samples beyond `max_pending` (called with the lock held)."""
        overflow = len(self._pending) - self._max_pending
        if overflow <= 0:
            return
        for _ in range(overflow):
            self._pending.popleft()
        before = self._dropped_in_memory
        self._dropped_in_memory += overflow
        if before == 0 or self._dropped_in_memory // 10_000 > before // 10_000:
            log.warning("database writer buffer full: dropped %d oldest samples so far", self._dropped_in_memory)

    def _shutdown(self) -> None:
        """Everything not stored goes to the spool, for the next start."""
        try:
            self._spill()
            if self.spool_pending:
                log.warning("%d samples not yet written are kept in the spool %s for the next start",
                            self.spool_pending, self._spool.directory.parent)
        finally:
            for spool in (*self._left, self._spool):
                spool.close()
