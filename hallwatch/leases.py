"""How `hallwatch worker` processes share the cameras, with PostgreSQL as the only coordinator.

Every camera has a lease row. Each heartbeat a worker
1. renews its registration and its leases (one transaction),
2. computes its share from the number of live workers (`fair_share`; the oldest workers take the
   remainder, so a new worker takes cameras from the others rather than the other way round),
3. releases its surplus, after it has stopped analysing those cameras, or claims what it lacks
   from free and expired leases with `SELECT ... FOR UPDATE SKIP LOCKED`.

A worker that dies stops renewing: its leases and its registration expire after the TTL, and the
others claim its cameras at their next heartbeat. A worker that cannot reach the database stops
analysing a camera `margin` before its lease can expire (fencing), counted on its own monotonic
clock from the start of the last successful renewal, so two workers never analyse one camera at
once. A worker that stops cleanly releases its leases at once.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from core.redact import redact_text
from storage import leases as sql
from storage.leases import CameraKey

log = logging.getLogger(__name__)

HEARTBEAT_S = 3.0
LEASE_TTL_S = 15.0  # a dead worker's cameras move after at most TTL + one heartbeat: 18 s
FENCE_TICK_S = 0.5  # how often a worker checks that it may still analyse what it holds


@dataclass(frozen=True)
class LeaseTimings:
    heartbeat_s: float = HEARTBEAT_S
    ttl_s: float = LEASE_TTL_S

    def __post_init__(self) -> None:
        if not 0.1 <= self.heartbeat_s <= 60.0:
            raise ValueError(f"heartbeat must be 0.1..60 s, not {self.heartbeat_s}")
        if self.ttl_s < 3 * self.heartbeat_s:
            raise ValueError(f"lease TTL ({self.ttl_s} s) must be at least 3 heartbeats ({3 * self.heartbeat_s} s)")

    @property
    def margin_s(self) -> float:
        """Analysis of a camera stops this long before its unrenewed lease expires."""
        return self.heartbeat_s


def fair_share(cameras: int, workers: int, rank: int) -> int:
    """How many of `cameras` the worker at `rank` (0 = oldest) of `workers` live workers holds:
    cameras // workers, plus one for the oldest cameras % workers workers. The shares add up to
    `cameras` exactly."""
    if cameras < 0 or workers < 1 or not 0 <= rank < workers:
        raise ValueError(f"no share for rank {rank} of {workers} workers and {cameras} cameras")
    return cameras // workers + (1 if rank < cameras % workers else 0)


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"


def _names(keys: Iterable[CameraKey]) -> str:
    return ", ".join("/".join(key) for key in sorted(keys)) or "none"


class LeaseKeeper:
    """Holds one worker's leases and tells the pipeline which cameras it may analyse (`apply`).

    `run` (the heartbeat thread) is the only writer of the held leases; `enforce` (any thread, at
    least every FENCE_TICK_S) applies them, leaving out leases past their fence deadline, without
    touching the database, so it works while the database is unreachable."""

    def __init__(
        self, pool: ConnectionPool, *, worker_id: str, cameras: Iterable[CameraKey],
        apply: Callable[[set[CameraKey]], None], timings: LeaseTimings = LeaseTimings(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.worker_id = worker_id
        self.cameras = sorted(set(cameras))
        self.timings = timings
        self._pool = pool
        self._apply = apply
        self._clock = clock
        self._host, self._pid = socket.gethostname(), os.getpid()
        self._lock = threading.Lock()
        self._held: dict[CameraKey, float] = {}  # camera -> fence deadline on the monotonic clock
        self._fenced: set[CameraKey] = set()
        self._site_changes = self._seeded = 0  # site changes made / whose cameras have lease rows

    def held(self) -> set[CameraKey]:
        with self._lock:
            return set(self._held)

    def run(self, stop: threading.Event) -> None:
        """Register, then beat every heartbeat until `stop`; release everything on the way out."""
        if not self.register(stop):
            return
        try:
            while not stop.is_set():
                started = self._clock()
                try:
                    self.beat()
                except psycopg.Error as exc:
                    log.warning("worker %s: heartbeat failed: %s", self.worker_id, redact_text(str(exc)))
                stop.wait(max(0.0, self.timings.heartbeat_s - (self._clock() - started)))
        finally:
            self.release_all()

    def register(self, stop: threading.Event) -> bool:
        """Register this worker and seed the lease rows; waits while a live worker has the same id
        or the database is unreachable. False if stopped first."""
        while not stop.is_set():
            try:
                with self._connection() as conn:
                    sql.seed_leases(conn, cameras=self.cameras)
                    if sql.register_worker(conn, worker_id=self.worker_id, host=self._host, pid=self._pid,
                                           ttl_s=self.timings.ttl_s):
                        log.info("worker %s: registered, %d cameras in the site", self.worker_id, len(self.cameras))
                        return True
                log.warning("worker %s: a live worker has this id; waiting for it to expire", self.worker_id)
            except psycopg.Error as exc:
                log.warning("worker %s: cannot register: %s", self.worker_id, redact_text(str(exc)))
            stop.wait(self.timings.heartbeat_s)
        return False

    def beat(self) -> None:
        """One heartbeat: renew, then release the surplus or claim what is missing of the share."""
        ttl_s = self.timings.ttl_s
        held = self.held()
        started = self._clock()
        changes, cameras = self._site_changes, self.cameras
        with self._connection() as conn, conn.transaction():
            if changes != self._seeded:  # the site changed since the last heartbeat: new cameras need lease rows
                sql.seed_leases(conn, cameras=cameras)
            sql.renew_worker(conn, worker_id=self.worker_id, host=self._host, pid=self._pid, ttl_s=ttl_s)
            renewed = sql.renew_leases(conn, worker_id=self.worker_id, cameras=held, ttl_s=ttl_s)
            workers = [w.id for w in sql.live_workers(conn)]
        self._seeded = changes
        if held - renewed:  # taken over after they expired: analysis was fenced off already
            log.warning("worker %s: lost %s to other workers", self.worker_id, _names(held - renewed))
            self._drop(held - renewed)
        self._hold(renewed, since=started)

        share = fair_share(len(self.cameras), len(workers), workers.index(self.worker_id))
        if len(renewed) > share:
            surplus = set(sorted(renewed)[share:])
            self._drop(surplus)  # stop analysing first, so the next holder never overlaps with us
            with self._connection() as conn:
                sql.release_leases(conn, worker_id=self.worker_id, cameras=surplus)
            log.info("worker %s: released %s (share %d of %d cameras, %d workers)",
                     self.worker_id, _names(surplus), share, len(self.cameras), len(workers))
        elif len(renewed) < share:
            started = self._clock()
            with self._connection() as conn:
                claimed = sql.claim_leases(conn, worker_id=self.worker_id, cameras=self.cameras,
                                           count=share - len(renewed), ttl_s=ttl_s)
            if claimed:
                self._hold(claimed, since=started)
                log.info("worker %s: acquired %s (share %d of %d cameras, %d workers)",
                         self.worker_id, _names(claimed), share, len(self.cameras), len(workers))

    def set_cameras(self, cameras: Iterable[CameraKey]) -> None:
        """The site's cameras changed (its file was edited): share these from the next heartbeat on, and
        stop analysing and release at once the held ones that are no longer in the site."""
        wanted = sorted(set(cameras))
        with self._lock:
            gone = set(self._held) - set(wanted)
            self.cameras = wanted
            self._site_changes += 1
        if not gone:
            return
        self._drop(gone)
        try:
            with self._connection() as conn:
                sql.release_leases(conn, worker_id=self.worker_id, cameras=gone)
        except psycopg.Error as exc:
            log.warning("worker %s: cannot release the leases of removed cameras %s (they expire): %s",
                        self.worker_id, _names(gone), redact_text(str(exc)))
        log.info("worker %s: %s left the site", self.worker_id, _names(gone))

    def enforce(self) -> None:
        """Let the pipeline analyse exactly the held cameras whose fence deadline has not passed."""
        with self._lock:
            now = self._clock()
            fenced = {key for key, deadline in self._held.items() if deadline <= now}
            if fenced - self._fenced:
                log.warning("worker %s: leases of %s not renewed in time: analysis stopped",
                            self.worker_id, _names(fenced - self._fenced))
            if (self._fenced - fenced) & self._held.keys():
                log.info("worker %s: leases of %s renewed: analysis resumed",
                         self.worker_id, _names((self._fenced - fenced) & self._held.keys()))
            self._fenced = fenced
            self._apply(set(self._held) - fenced)

    def release_all(self) -> None:
        """Stop analysing everything, then release the leases and retire this worker."""
        held = self.held()
        self._drop(held)
        try:
            with self._connection() as conn:
                released = sql.release_leases(conn, worker_id=self.worker_id, cameras=held)
                sql.retire_worker(conn, worker_id=self.worker_id)
            log.info("worker %s: released %s and stopped", self.worker_id, _names(released))
        except psycopg.Error as exc:
            log.warning("worker %s: cannot release leases (they expire in %.0f s): %s",
                        self.worker_id, self.timings.ttl_s, redact_text(str(exc)))

    def _hold(self, keys: set[CameraKey], *, since: float) -> None:
        """Hold (or keep holding) leases granted by a statement that started at `since`."""
        with self._lock:
            keys = keys & set(self.cameras)  # not a camera the site lost while the statement ran
            self._held.update(dict.fromkeys(keys, since + self.timings.ttl_s - self.timings.margin_s))
        self.enforce()

    def _drop(self, keys: set[CameraKey]) -> None:
        with self._lock:
            for key in keys:
                self._held.pop(key, None)
        self.enforce()

    def _connection(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        return self._pool.connection(timeout=self.timings.heartbeat_s)
