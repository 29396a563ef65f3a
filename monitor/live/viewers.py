"""Who watches what, and whether they still may.

Every open stream (an MJPEG response, a WebRTC peer with its overlay channel) is a `Viewer` that
remembers the credential it was opened with (the browser session or the API token, as the SHA-256
the database keeps), its user and its camera. `Viewers`, one per web process, then

- refuses a user's stream beyond `live.max_streams_per_user` (`TooManyStreams`, answered 429);
- checks every open stream's right again each `live.recheck_s`, with one query for all of them:
  the session or token must still exist, be unexpired and unrevoked, its user active, the user's
  scope must still cover the camera, and a stream with faces needs a role that still sees faces.
  A stream that fails ends at once; so does one whose right has gone unconfirmed (database
  unreachable or locked) for `UNCONFIRMED_CHECKS` periods: the check fails closed;
- ends streams at once when logout or disabling in this process says so (`end_live_streams`).

A stream therefore ends at most `recheck_s` (plus the query, cut off after 2 × `CHECK_TIMEOUT_S`)
after its right ends anywhere, in any process, and at once after a logout or disabling served by
this process (docs/live.md, "How long a stream lasts")."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Collection, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import psycopg
from starlette.requests import Request

from core.config.live import LiveConfig
from core.errors import HallwatchError
from storage.auth.model import User
from storage.auth.sessions import holders, secret_digest

if TYPE_CHECKING:
    from monitor.live.wall import LiveCamera

log = logging.getLogger(__name__)

STATE_KEY = "live_viewers"  # the app's `Viewers` is `app.state.live_viewers`
CHECK_TIMEOUT_S = 2.0       # a check waits this long for a connection, and its query runs at most this long
UNCONFIRMED_CHECKS = 5      # periods in a row without a confirmation before a stream ends anyway
T = TypeVar("T")
_ids = itertools.count(1)


class TooManyStreams(HallwatchError):
    """The user holds as many live streams open as one user may."""


@dataclass(frozen=True)
class Credential:
    """What a stream was opened with: a browser session or an API token, by its SHA-256 (as stored)."""

    kind: Literal["session", "token"]
    digest: str

    @classmethod
    def of(cls, kind: Literal["session", "token"], secret: str) -> Credential:
        return cls(kind, secret_digest(secret))

    @classmethod
    def of_request(cls, request: Request) -> Credential | None:
        """The credential `monitor.deps.current_user` accepted for this request (it notes which)."""
        accepted = getattr(request.state, "credential", None)
        return cls.of(*accepted) if accepted else None


class Viewer:
    """One open stream and the right it was opened with. Made, ended and awaited on the event loop
    that serves it; `close` may be called from any thread."""

    def __init__(self, viewers: Viewers, *, user: User, credential: Credential, camera: LiveCamera, faces: bool,
                 kind: str):
        self.id = next(_ids)
        self.user_id = user.id
        self.credential = credential
        self.camera = camera
        self.faces = faces
        self.kind = kind  # mjpeg | webrtc
        self.loop = asyncio.get_running_loop()
        self.reason: str | None = None  # why it was ended; None while open or when its client left
        self.confirmed = time.monotonic()  # when its right was last confirmed
        self._viewers = viewers
        self._ended = asyncio.Event()
        self._on_end: list[Callable[[str], Coroutine[Any, Any, None]]] = []
        self._tasks: set[asyncio.Future[None]] = set()

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    def refusal(self, holder: User | None) -> str | None:
        """Why this stream may no longer be watched, given its credential's user as the database has
        them now (None: the credential is gone, expired, revoked or its user disabled); None if it may."""
        if holder is None or holder.id != self.user_id:
            return "sign-in ended"
        if not holder.scope.allows(self.camera.hall_id, self.camera.city_id):
            return "camera outside your scope"
        if self.faces and not holder.sees_faces:
            return "role changed"
        return None

    def on_end(self, callback: Callable[[str], Coroutine[Any, Any, None]]) -> None:
        """Run `callback(reason)` when the stream is ended (at once if it has been)."""
        if self.reason is not None:
            self._run(callback)
        else:
            self._on_end.append(callback)

    def end(self, reason: str) -> None:
        """Stop the stream now, for `reason` (shown to the viewer where the stream can carry it)."""
        if self.ended:
            return
        self.reason = reason
        self._ended.set()
        self.close()
        log.info("%s: %s stream of user %d ended: %s", self.camera.key, self.kind, self.user_id, reason)
        for callback in self._on_end:
            self._run(callback)

    def _run(self, callback: Callable[[str], Coroutine[Any, Any, None]]) -> None:
        assert self.reason is not None
        task = asyncio.ensure_future(callback(self.reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        """The stream is over (ended, or its client left): it no longer counts. Idempotent."""
        self._viewers.forget(self)

    async def until_ended(self, work: Awaitable[T]) -> T | None:
        """`work`'s result, or None as soon as the stream is ended (then `work` is cancelled)."""
        task = asyncio.ensure_future(work)
        waiter = asyncio.ensure_future(self._ended.wait())
        try:
            done, _ = await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            if not task.done():
                task.cancel()
        return task.result() if task in done and not self.ended else None


class Viewers:
    """The open streams of one web process. Create and open on the app's event loop; `end` may be
    called from any thread (sync routes run in a thread pool)."""

    def __init__(self, pool: Any, config: LiveConfig):
        self._pool = pool
        self.max_per_user = config.max_streams_per_user
        self.recheck_s = config.recheck_s
        self._lock = threading.Lock()
        self._open: dict[int, Viewer] = {}
        self._checker: asyncio.Task[None] | None = None
        self.checks = 0  # checks done, each one query for every open stream

    @classmethod
    def of_app(cls, app: Any) -> Viewers:
        """The app's registry, made on first use (call on the app's event loop)."""
        viewers: Viewers | None = getattr(app.state, STATE_KEY, None)
        if viewers is None:
            viewers = cls(app.state.pool, app.state.site.live)
            setattr(app.state, STATE_KEY, viewers)
        return viewers

    def open(self, *, user: User, credential: Credential, camera: LiveCamera, faces: bool, kind: str) -> Viewer:
        """A new stream of `user`'s, counted until it is closed; TooManyStreams past the limit."""
        viewer = Viewer(self, user=user, credential=credential, camera=camera, faces=faces, kind=kind)
        with self._lock:
            if sum(1 for v in self._open.values() if v.user_id == user.id) >= self.max_per_user:
                raise TooManyStreams(f"too many live streams open: at most {self.max_per_user} per user")
            self._open[viewer.id] = viewer
        if self._checker is None or self._checker.done():
            self._checker = asyncio.ensure_future(self._check_periodically())
        return viewer

    def forget(self, viewer: Viewer) -> None:
        with self._lock:
            self._open.pop(viewer.id, None)

    def count(self, user_id: int | None = None) -> int:
        with self._lock:
            return sum(1 for v in self._open.values() if user_id is None or v.user_id == user_id)

    def end(self, *, reason: str, session_token: str | None = None, user_id: int | None = None) -> int:
        """End now the streams opened with browser session `session_token`, or all of user `user_id`'s.
        Returns how many. Any thread."""
        session = Credential.of("session", session_token) if session_token else None
        with self._lock:
            chosen = [v for v in self._open.values()
                      if (session is not None and v.credential == session)
                      or (user_id is not None and v.user_id == user_id)]
        for viewer in chosen:
            try:
                viewer.loop.call_soon_threadsafe(viewer.end, reason)
            except RuntimeError:  # its loop has closed: the stream is gone anyway
                viewer.close()
        return len(chosen)

    async def _check_periodically(self) -> None:
        """Every `recheck_s` while streams are open: one query for all their credentials, then each
        stream whose right has ended is ended."""
        while True:
            await asyncio.sleep(self.recheck_s)
            with self._lock:
                viewers = list(self._open.values())
            if not viewers:
                return  # `open` starts the next checker
            try:
                # The outer limit holds where the statement timeout cannot: a server that stopped answering.
                current: dict[Credential, User] | None = await asyncio.wait_for(
                    asyncio.to_thread(self._holders, {v.credential for v in viewers}), 2 * CHECK_TIMEOUT_S)
            except Exception as exc:  # database unreachable, locked, pool exhausted: nothing is confirmed
                log.warning("live streams: rights not checked: %s", type(exc).__name__)
                current = None
            self.checks += 1
            now = time.monotonic()
            for viewer in viewers:
                if viewer.ended:
                    continue
                if current is None:
                    if now - viewer.confirmed > self.recheck_s * UNCONFIRMED_CHECKS:
                        viewer.end("sign-in could not be checked")
                    continue
                reason = viewer.refusal(current.get(viewer.credential))
                if reason is not None:
                    viewer.end(reason)
                else:
                    viewer.confirmed = now

    def _holders(self, credentials: Collection[Credential]) -> dict[Credential, User]:
        with self._pool.connection(timeout=CHECK_TIMEOUT_S) as conn:
            conn.execute("SELECT set_config('statement_timeout', %s, true)", (f"{CHECK_TIMEOUT_S * 1000:.0f}",))
            return credential_holders(conn, credentials)

    async def close(self) -> None:
        if self._checker is not None:
            self._checker.cancel()


def end_live_streams(app: Any, *, reason: str, session_token: str | None = None, user_id: int | None = None) -> int:
    """The hook for logout (`session_token=`) and for disabling a user or changing their role or scope
    (`user_id=`): ends this process's streams of that session or user at once, before the periodic
    check would. Safe from sync routes; returns how many streams it ended."""
    viewers: Viewers | None = getattr(app.state, STATE_KEY, None)
    if viewers is None:
        return 0
    return viewers.end(reason=reason, session_token=session_token, user_id=user_id)


def credential_holders(conn: psycopg.Connection, credentials: Collection[Credential]) -> dict[Credential, User]:
    """The current user of each credential that still lets its holder in (`storage.auth.sessions.holders`)."""
    found = holders(conn, sessions=[c.digest for c in credentials if c.kind == "session"],
                    tokens=[c.digest for c in credentials if c.kind == "token"])
    return {Credential(kind, digest): user for (kind, digest), user in found.items()}
