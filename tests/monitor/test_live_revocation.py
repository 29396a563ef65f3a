"""A live stream lasts only as long as the right to watch it (docs/live.md, "How long a stream lasts"):
real MJPEG responses and an aiortc WebRTC peer from the app on a socket, the RTSP simulator's camera, a
real PostgreSQL. Each test awaits the stream's end (the body ends, the track ends) within the documented
bound, and a stream whose right holds keeps flowing beside it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

import httpx
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from psycopg_pool import ConnectionPool

from core.config import LiveConfig, SiteConfig
from monitor.app import create_app
from monitor.live import OverlayHub
from monitor.live.viewers import CHECK_TIMEOUT_S, UNCONFIRMED_CHECKS, end_live_streams
from tests.fix_auth import PASSWORD, add_user, meta_csrf, page_login
from tests.fix_web import serving

CAMERA = "cc-nanguan/cam1"
LIMIT = 3
RECHECK_S = LiveConfig().recheck_s
# The documented bound: one period, plus the check itself (cut off after 2 s for a connection, 2 s of query).
BOUND_S = RECHECK_S + 2 * CHECK_TIMEOUT_S
AT_ONCE_S = 1.5  # the hook ends streams on the next turn of the event loop; this is slack for a busy box


@contextmanager
def wall_served(pool: ConnectionPool, site: SiteConfig, **live: float) -> Iterator[tuple[str, object]]:
    app = create_app(site.model_copy(update={"live": LiveConfig(max_streams_per_user=LIMIT, **live)}), pool)
    app.state.overlay_hub = OverlayHub()
    with serving(app) as url:
        yield url, app


@pytest.fixture
def wall(live_pool: ConnectionPool, live_site: SiteConfig) -> Iterator[tuple[str, object]]:
    """The app with the default re-check period and LIMIT streams per user; users as in `live_pool`, plus an
    admin (`root`) and a second operator of the province (`watcher`)."""
    add_user(live_pool, "root", "admin", "province")
    add_user(live_pool, "watcher", "center_operator", "province")
    with wall_served(live_pool, live_site) as served:
        yield served


@asynccontextmanager
async def signed_in(base: str, name: str, way: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client signed in through the login form (`session`: cookie, CSRF header) or holding a bearer `token`."""
    async with httpx.AsyncClient(base_url=base, timeout=60.0) as client:
        if way == "token":
            response = await client.post("/api/v1/auth/token", json={"name": name, "password": PASSWORD})
            assert response.status_code == 200, response.text
            client.headers["Authorization"] = f"Bearer {response.json()['token']}"
        else:
            response = await client.post("/login", data={"name": name, "password": PASSWORD, "next": "/"})
            assert response.status_code == 303, response.text
            client.headers["X-CSRF-Token"] = meta_csrf((await client.get("/")).text)
        yield client


class Mjpeg:
    """An open MJPEG response read part by part."""

    def __init__(self, response: httpx.Response):
        self._chunks = response.aiter_bytes()
        self._buffer = b""

    async def frame(self) -> bytes:
        """The next whole JPEG."""
        while b"\xff\xd9" not in self._buffer[self._buffer.find(b"\xff\xd8"):] or b"\xff\xd8" not in self._buffer:
            self._buffer += await anext(self._chunks)
        start = self._buffer.index(b"\xff\xd8")
        end = self._buffer.index(b"\xff\xd9", start) + 2
        jpeg, self._buffer = self._buffer[start:end], self._buffer[end:]
        return jpeg

    async def end(self) -> None:
        """Returns when the server has ended the body: no more bytes will come."""
        async for _chunk in self._chunks:
            pass


@asynccontextmanager
async def mjpeg(client: httpx.AsyncClient) -> AsyncIterator[Mjpeg]:
    async with client.stream("GET", f"/api/v1/live/{CAMERA}/mjpeg") as response:
        assert response.status_code == 200, (await response.aread())[:200]
        stream = Mjpeg(response)
        await stream.frame()
        yield stream


async def ends_within(stream_end: Awaitable[None], seconds: float) -> float:
    """How long after now `stream_end` came; fails if it did not come within `seconds`."""
    started = time.monotonic()
    await asyncio.wait_for(stream_end, seconds)
    return time.monotonic() - started


def db(pool: ConnectionPool, sql: str) -> None:
    with pool.connection() as conn:
        conn.execute(sql)


# What ends a right, as the web app, an admin or the database (another process, `hallwatch users`) does it.
OPERATOR = "(SELECT id FROM app_user WHERE name = 'operator')"
Change = Callable[[httpx.AsyncClient, str, ConnectionPool], Awaitable[None]]


async def logout(client: httpx.AsyncClient, base: str, pool: ConnectionPool) -> None:
    assert (await client.post("/logout")).status_code == 303


async def expiry(client: httpx.AsyncClient, base: str, pool: ConnectionPool) -> None:
    db(pool, f"UPDATE user_session SET expires_at = now() WHERE user_id = {OPERATOR}")


async def revocation(client: httpx.AsyncClient, base: str, pool: ConnectionPool) -> None:
    db(pool, f"UPDATE api_token SET revoked = true WHERE user_id = {OPERATOR}")


async def revocation_by_admin(client: httpx.AsyncClient, base: str, pool: ConnectionPool) -> None:
    async with signed_in(base, "root", "token") as admin:
        response = await admin.post("/api/v1/users/operator/tokens/revoke")
        assert response.status_code == 200 and response.json()["revoked"], response.text


async def disabling(client: httpx.AsyncClient, base: str, pool: ConnectionPool) -> None:
    async with signed_in(base, "root", "token") as admin:
        assert (await admin.post("/api/v1/users/operator/disable")).status_code == 200


async def scope_change(client: httpx.AsyncClient, base: str, pool: ConnectionPool) -> None:
    db(pool, "UPDATE app_user SET scope = 'hall/cc-chaoyang' WHERE name = 'operator'")  # the camera is in cc-nanguan


async def role_change(client: httpx.AsyncClient, base: str, pool: ConnectionPool) -> None:
    db(pool, "UPDATE app_user SET role = 'manager' WHERE name = 'operator'")  # a manager may not see faces


@pytest.mark.parametrize(("way", "change"), [
    ("session", logout), ("session", expiry), ("token", revocation), ("token", revocation_by_admin),
    ("token", disabling), ("session", disabling), ("session", scope_change), ("token", role_change),
], ids=lambda v: v if isinstance(v, str) else v.__name__)
def test_mjpeg_ends_when_the_right_to_watch_ends(wall: tuple[str, object], live_pool: ConnectionPool, way: str,
                                                  change: Change) -> None:
    base, app = wall

    async def run() -> float:
        async with signed_in(base, "operator", way) as client, signed_in(base, "watcher", "session") as other, \
                mjpeg(client) as stream, mjpeg(other) as bystander:
            await change(client, base, live_pool)
            elapsed = await ends_within(stream.end(), BOUND_S)
            await bystander.frame()  # a stream whose right holds flows on
            assert app.state.live_viewers.count() == 1  # type: ignore[attr-defined]
            return elapsed

    elapsed = asyncio.run(run())
    assert elapsed <= BOUND_S


def test_logout_hook_ends_the_sessions_streams_at_once(live_pool: ConnectionPool, live_site: SiteConfig) -> None:
    """What logout calls (`end_live_streams`) ends that session's streams without waiting for the periodic
    check (here a minute away), from a thread as a sync route calls it; the user's other session streams on."""
    add_user(live_pool, "watcher", "center_operator", "province")
    with wall_served(live_pool, live_site, recheck_s=60.0) as (base, app):
        async def run() -> float:
            async with signed_in(base, "operator", "session") as client, \
                    signed_in(base, "operator", "session") as second, mjpeg(client) as stream, mjpeg(second) as other:
                token = client.cookies["hw_session"]
                ended = await asyncio.to_thread(end_live_streams, app, session_token=token, reason="signed out")
                assert ended == 1
                elapsed = await ends_within(stream.end(), AT_ONCE_S)
                await other.frame()
                return elapsed

        assert asyncio.run(run()) <= AT_ONCE_S


def test_disable_hook_ends_all_the_users_streams_at_once(live_pool: ConnectionPool, live_site: SiteConfig) -> None:
    add_user(live_pool, "watcher", "center_operator", "province")
    with wall_served(live_pool, live_site, recheck_s=60.0) as (base, app):
        async def run() -> None:
            async with signed_in(base, "operator", "session") as client, signed_in(base, "operator", "token") as api, \
                    signed_in(base, "watcher", "token") as other, mjpeg(client) as one, mjpeg(api) as two, \
                    mjpeg(other) as bystander:
                user_id = (await api.get("/api/v1/me")).json()["id"]
                assert await asyncio.to_thread(end_live_streams, app, user_id=user_id, reason="user disabled") == 2
                await ends_within(asyncio.gather(one.end(), two.end()), AT_ONCE_S)
                await bystander.frame()

        asyncio.run(run())


@dataclass
class Peer:
    track: MediaStreamTrack
    messages: list[str]          # from the overlay channel
    overlay_closed: asyncio.Event


@asynccontextmanager
async def webrtc(client: httpx.AsyncClient) -> AsyncIterator[Peer]:
    """An aiortc viewer of CAMERA through the app's signalling, once its first frame is decoded."""
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("video", direction="recvonly")
        channel = pc.createDataChannel("overlay")
        messages: list[str] = []
        channel.on("message", messages.append)
        overlay_closed = asyncio.Event()
        channel.on("close", overlay_closed.set)
        track_future: asyncio.Future = asyncio.get_running_loop().create_future()
        pc.on("track", track_future.set_result)
        await pc.setLocalDescription(await pc.createOffer())
        response = await client.post(f"/api/v1/live/{CAMERA}/offer",
                                     json={"sdp": pc.localDescription.sdp, "type": "offer"})
        assert response.status_code == 200, response.text
        await pc.setRemoteDescription(RTCSessionDescription(sdp=response.json()["sdp"], type="answer"))
        track = await asyncio.wait_for(track_future, 30)
        await asyncio.wait_for(track.recv(), 30)
        yield Peer(track, messages, overlay_closed)
    finally:
        await pc.close()


async def peer_end(peer: Peer) -> None:
    """Returns when the server has ended both the video and the overlay channel."""
    while True:
        try:
            await peer.track.recv()
        except MediaStreamError:
            break
    await peer.overlay_closed.wait()


def test_webrtc_peer_and_overlay_end_at_logout(wall: tuple[str, object]) -> None:
    base, app = wall

    async def run() -> tuple[float, list[str]]:
        async with signed_in(base, "operator", "session") as client, webrtc(client) as peer:
            assert (await client.post("/logout")).status_code == 303
            return await ends_within(peer_end(peer), BOUND_S), peer.messages

    elapsed, messages = asyncio.run(run())
    assert elapsed <= BOUND_S
    assert '"type": "config"' in messages[0]
    assert messages[-1] == '{"type": "end", "reason": "sign-in ended"}'  # the page can say why
    assert app.state.live_wall.peers == 0 and app.state.live_viewers.count() == 0  # type: ignore[attr-defined]


def test_streams_per_user_are_limited(wall: tuple[str, object]) -> None:
    base, app = wall

    async def run() -> None:
        async with signed_in(base, "operator", "token") as client, signed_in(base, "watcher", "token") as other, \
                mjpeg(client), mjpeg(client):
            async with webrtc(client):  # WebRTC peers count as well
                assert await opened(client) == (429, f"too many live streams open: at most {LIMIT} per user")
                offer = await client.post(f"/api/v1/live/{CAMERA}/offer", json={"sdp": "v=0 " * 5, "type": "offer"})
                assert offer.status_code == 429, offer.text
                async with mjpeg(other):  # another user's streams are their own
                    pass
            # The peer is closed: its place is free again once the server has seen it go.
            deadline = time.monotonic() + BOUND_S
            while (status := (await opened(client))[0]) == 429:
                assert time.monotonic() < deadline, "a closed peer still counts"
            assert status == 200

    asyncio.run(run())


async def opened(client: httpx.AsyncClient) -> tuple[int, str | None]:
    """The status of an MJPEG request and the detail of a refusal; a stream is closed at once, unread."""
    async with client.stream("GET", f"/api/v1/live/{CAMERA}/mjpeg") as response:
        if response.status_code != 429:
            return response.status_code, None
        return response.status_code, json.loads(await response.aread())["detail"]


def test_the_wall_page_says_why_its_video_ended(browser, wall: tuple[str, object]) -> None:  # type: ignore[no-untyped-def]
    """Chromium: the operator's wall plays WebRTC; logging out (from the same browser) ends the tile's
    video, and the tile says why instead of falling back to MJPEG."""
    base, _app = wall
    page = browser.new_context().new_page()
    page_login(page, base, "/live", "operator")
    page.evaluate("s => localStorage.setItem('hallwatch.live.v1', s)",
                  json.dumps({"layout": "1x1", "tiles": [CAMERA], "modes": {}, "overlay": True}))
    page.reload()
    page.wait_for_function("() => window.hallwatchLive.tiles[0].stats.frames >= 5", timeout=30_000)
    started = time.monotonic()
    page.evaluate("""() => fetch('/logout', {method: 'POST', redirect: 'manual', headers: {
        'X-CSRF-Token': document.querySelector('meta[name="csrf-token"]').content}})""")
    page.wait_for_function("() => document.querySelector('[data-tile=\"0\"]').dataset.state === 'ended: sign-in ended'",
                           timeout=BOUND_S * 1000)
    assert time.monotonic() - started <= BOUND_S
    assert page.evaluate("() => window.hallwatchLive.tiles[0].stats.mode") is None  # no MJPEG fallback


def test_streams_end_when_their_right_cannot_be_checked(live_pool: ConnectionPool, live_site: SiteConfig) -> None:
    """The check fails closed: while it cannot run (here a transaction holds the sessions table locked, so
    each check's query is cut off), a stream ends once its right has gone unconfirmed for UNCONFIRMED_CHECKS
    periods, at the next check after that."""
    recheck_s = 0.5
    bound_s = recheck_s * (UNCONFIRMED_CHECKS + 1) + 2 * CHECK_TIMEOUT_S
    with wall_served(live_pool, live_site, recheck_s=recheck_s) as (base, _app):
        async def run() -> float:
            async with signed_in(base, "operator", "session") as client, mjpeg(client) as stream:
                with live_pool.connection() as conn:
                    conn.execute("LOCK TABLE user_session IN ACCESS EXCLUSIVE MODE")
                    return await ends_within(stream.end(), bound_s)

        assert asyncio.run(run()) <= bound_s
