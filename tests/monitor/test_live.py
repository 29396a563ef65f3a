"""The live wall's server side on real parts: the GStreamer RTSP simulator, aiortc peers on both
ends, the FastAPI app over a real socket with a real PostgreSQL (the simulator, the database and the app are
tests/fix_live.py's). Browser tests are in test_live_web.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from aiortc import RTCPeerConnection
from psycopg_pool import ConnectionPool

from core.config import SiteConfig, load_site
from hallwatch.service import simulator_process
from monitor.live import LiveWall, OverlayHub
from monitor.live.blur import CELL_PX, blur_faces, head_regions
from monitor.live.fanout import AccessUnit, Fanout
from monitor.live.h264 import browser_decodable, nal_types, sps_profile
from monitor.live.source import CameraSource
from tests.fix_auth import PASSWORD
from tests.fix_live import FRAME_TICKS, connection_stats, one_connection_for_all_viewers
from tests.fix_sites import free_port, site_with_port, write_site

CAMERA = ("cc-nanguan", "cam1")


# -- pure parts ----------------------------------------------------------------------------------------

SPS_BASELINE = bytes.fromhex("6742c01fda014016ec05a808080a0000030002")


@pytest.mark.parametrize(("data", "types"), [
    (b"\x00\x00\x00\x01" + SPS_BASELINE + b"\x00\x00\x00\x01\x68\xce" + b"\x00\x00\x01\x65\x88", [7, 8, 5]),
    (b"\x00\x00\x00\x01\x09\x10\x00\x00\x00\x01\x41\x9a", [9, 1]),
    (b"", []),
])
def test_nal_types(data: bytes, types: list[int]) -> None:
    assert nal_types(data) == types


@pytest.mark.parametrize(("profile", "ok"), [(66, True), (77, True), (100, True), (110, False), (244, False),
                                             (None, False)])
def test_browser_profiles(profile: int | None, ok: bool) -> None:
    assert browser_decodable(profile) is ok


def test_sps_profile() -> None:
    assert sps_profile(b"\x00\x00\x00\x01" + SPS_BASELINE) == 66


def test_blur_pixelates_heads_only() -> None:
    rng = np.random.default_rng(5)
    image = rng.integers(0, 255, (360, 640, 3), dtype=np.uint8)
    original = image.copy()
    box = np.array([[100, 100, 200, 300]], dtype=np.float32)  # a standing person, 200 px tall
    (x1, y1, x2, y2), = head_regions(box, 640, 360)
    assert (x1, y1) == (88, 76) and x2 == 213 and y2 == 171   # widened, and the top 35 % of the box
    blur_faces(image, box)
    head = image[y1:y2, x1:x2].astype(int)
    cell = head[:CELL_PX, :CELL_PX]
    assert (cell == cell[0, 0]).all()                          # a mosaic cell is one colour
    assert not np.array_equal(image[y1:y2, x1:x2], original[y1:y2, x1:x2])
    assert np.array_equal(image[y2:, :], original[y2:, :])      # the body below the head is untouched
    assert np.array_equal(image[:, x2:], original[:, x2:])


def test_blur_without_boxes_covers_everything() -> None:
    image = np.random.default_rng(6).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    blurred = blur_faces(image.copy(), None)
    assert (blurred[:32, :32] == blurred[0, 0]).all()


@pytest.mark.parametrize(("box", "error"), [
    ([0.1, 0.2, 0.3], "x1, y1, x2, y2"),
    ([0.5, 0.2, 0.3, 0.4], "x2 < x1"),
])
def test_overlay_rejects_bad_boxes(box: list[float], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        OverlayHub().publish("h", "c", 1.0, [box], {}, {})


def test_overlay_hub_publishes_changes() -> None:
    hub = OverlayHub()
    seen = []
    unsubscribe = hub.subscribe("h", "c", seen.append)
    hub.publish("h", "c", 1.0, [[0.1, 0.2, 0.3, 1.2]], {"w1": "present"}, {"q1": 2})
    hub.publish("h", "c", 1.0, [[0.1, 0.2, 0.3, 1.2]], {"w1": "present"}, {"q1": 2})  # same: no call
    hub.publish_states("h", "c", 2.0, {"w1": "absent"}, {"q1": 3})  # boxes are fresh: the pipeline wins
    hub.publish("h", "other", 1.0, [], {}, {})
    assert len(seen) == 1 and seen[0].boxes == ((0.1, 0.2, 0.3, 1.0),)   # clamped to the frame
    assert hub.watched() == {("h", "c")}
    unsubscribe()
    hub.publish("h", "c", 3.0, [], {"w1": "absent"}, {"q1": 0})
    assert len(seen) == 1 and hub.latest("h", "c").desks == {"w1": "absent"}


def test_fanout_gives_each_subscriber_every_unit_from_a_keyframe() -> None:
    async def run() -> tuple[list[int], list[int], int]:
        loop = asyncio.get_running_loop()
        fanout = Fanout("test")
        early = fanout.subscribe(loop)
        units = [AccessUnit(b"x", key=i % 5 == 0, ts=float(i), seq=i) for i in range(1, 13)]
        fanout.publish(units[0])            # a P-frame: nobody can start on it
        late = None
        for unit in units[1:]:
            if unit.seq == 7:
                late = fanout.subscribe(loop)  # joins mid-GOP: starts at the next keyframe (10)
            fanout.publish(unit)
        await asyncio.sleep(0)
        assert late is not None
        got_early = [u.seq for u in iter(lambda: _next_or_none(early), None)]
        got_late = [u.seq for u in iter(lambda: _next_or_none(late), None)]
        return got_early, got_late, fanout.count

    early, late, count = asyncio.run(run())
    assert early == [5, 6, 7, 8, 9, 10, 11, 12] and late == [10, 11, 12] and count == 2


def test_a_slow_subscriber_skips_to_the_next_keyframe() -> None:
    async def run() -> tuple[list[int], int]:
        fanout = Fanout("test")
        slow = fanout.subscribe(asyncio.get_running_loop())
        for i in range(0, 45):
            fanout.publish(AccessUnit(b"x", key=i % 10 == 0, ts=float(i), seq=i))
        await asyncio.sleep(0)
        return [u.seq for u in iter(lambda: _next_or_none(slow), None)], slow.resyncs

    seqs, resyncs = asyncio.run(run())
    assert resyncs == 1 and seqs == [30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44]


def _next_or_none(subscriber) -> AccessUnit | None:  # type: ignore[no-untyped-def]
    return None if subscriber._queue.empty() else subscriber._queue.get_nowait()


# -- the simulator and the app -------------------------------------------------------------------------


def api(base: str, name: str) -> httpx.Client:
    # A deadline for failing, not a speed check: a blurred snapshot waits for a frame (up to 8 s), then
    # loads the detector; on a starved box that once took longer than 20 s.
    client = httpx.Client(base_url=base, timeout=60.0)
    response = client.post("/api/v1/auth/token", json={"name": name, "password": PASSWORD, "label": "live"})
    assert response.status_code == 200, response.text
    client.headers["Authorization"] = f"Bearer {response.json()['token']}"
    return client


async def watch(wall: LiveWall, *, faces: bool, frames: int) -> dict:
    """An aiortc viewer: offer, answer, then `frames` decoded frames and the overlay messages."""
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    channel = pc.createDataChannel("overlay")
    messages: list[str] = []
    channel.on("message", messages.append)
    track_future: asyncio.Future = asyncio.get_running_loop().create_future()
    pc.on("track", track_future.set_result)
    await pc.setLocalDescription(await pc.createOffer())
    answer = await wall.answer(*CAMERA, pc.localDescription.sdp, faces=faces)
    assert "H264/90000" in answer.sdp and "VP8" not in answer.sdp
    await pc.setRemoteDescription(answer)
    track = await asyncio.wait_for(track_future, 15)
    received = []
    for _ in range(frames):
        frame = await asyncio.wait_for(track.recv(), 15)
        received.append(frame)
    await pc.close()
    return {"pts": [f.pts for f in received], "last": received[-1].to_ndarray(format="bgr24"), "messages": messages}


def test_two_viewers_share_one_connection_and_each_get_every_frame(live_site: SiteConfig) -> None:
    async def run() -> tuple[list[dict], dict]:
        wall = LiveWall(live_site, linger_s=0.5)
        try:
            source = wall.source(*CAMERA)
            viewers = await asyncio.gather(watch(wall, faces=True, frames=40), watch(wall, faces=True, frames=40))
            stats = {**connection_stats(source), "profile": source.browser_decodable, "units": source.units,
                     "blurred_streams": len(wall._blurred)}
            return viewers, stats
        finally:
            await wall.close()

    viewers, stats = asyncio.run(run())
    assert one_connection_for_all_viewers(stats), stats
    assert stats["profile"] is True and stats["blurred_streams"] == 0
    for viewer in viewers:
        steps = np.diff(viewer["pts"])
        # Every frame, in order: a viewer sharing a consumer with another would see steps of 2 frames.
        assert (steps > 0).all() and (steps < 1.5 * FRAME_TICKS).all(), steps
        assert viewer["last"].shape == (720, 1280, 3)
        assert '"type": "config"' in viewer["messages"][0]


def test_a_dropped_connection_is_replaced_never_doubled(tmp_path: Path) -> None:
    """What a starved box can do to a viewer's stream, made to happen: the camera stops sending mid-stream
    (its server goes away) and comes back. The source reconnects: two connections in all, the first
    dropped, never two open at once."""
    raw = site_with_port(free_port())
    raw["halls"] = raw["halls"][:1]
    raw["halls"][0]["cameras"] = raw["halls"][0]["cameras"][:1]
    path = write_site(tmp_path / "site.yaml", raw)
    url = load_site(path).cameras()[0][1].url
    source = CameraSource("cam", url, read_timeout_s=1.0, linger_s=0.5, reconnect_min_s=0.2, reconnect_max_s=0.5)
    try:
        with source.watch_frames():
            with simulator_process(path, tmp_path / "truth-1", seed=5):
                frame = source.wait_frame(timeout=30)
                assert frame is not None and connection_stats(source)["open"] == 1
            with simulator_process(path, tmp_path / "truth-2", seed=5):
                while source.connects < 2:  # frames from the first server may still be in the pipe
                    frame = source.wait_frame(frame.seq, timeout=30)
                    assert frame is not None, connection_stats(source)
                stats = connection_stats(source)
    finally:
        source.close()
    assert stats["connects"] == 2 and stats["drops"] == 1 and stats["open"] == 1, stats
    assert one_connection_for_all_viewers(stats), stats
    assert source.open_connections == 0 and source.state == "closed"


def test_blurred_viewer_gets_the_shared_reencoded_stream(live_site: SiteConfig) -> None:
    async def run() -> tuple[dict, dict]:
        wall = LiveWall(live_site, linger_s=0.5)
        try:
            viewer = await watch(wall, faces=False, frames=25)
            blurred, source = wall.blurred(*CAMERA), wall.source(*CAMERA)
            return viewer, {"encoded": blurred.encoded, "whole": blurred.whole_frame_blurs, **connection_stats(source)}
        finally:
            await wall.close()

    viewer, stats = asyncio.run(run())
    assert one_connection_for_all_viewers(stats), stats
    assert stats["encoded"] >= 25
    assert stats["whole"] >= 1  # before the first detection every frame is pixelated: fails closed
    assert (np.diff(viewer["pts"]) > 0).all() and viewer["last"].shape == (720, 1280, 3)
    assert '"blurred": true' in viewer["messages"][0]


def test_cameras_in_scope_only(live_served: tuple[str, object]) -> None:
    base, _ = live_served
    assert httpx.get(base + "/api/v1/live/cameras").status_code == 401
    operator = api(base, "operator").get("/api/v1/live/cameras").json()
    assert operator["faces"] is True and operator["count"] == 3
    staff = api(base, "staff").get("/api/v1/live/cameras").json()
    assert staff["faces"] is False and [c["key"] for c in staff["data"]] == ["cc-nanguan/cam1", "cc-nanguan/cam2"]
    assert staff["data"][0]["zones"][0] == {"id": "w1-desk", "kind": "desk", "window": "w1",
                                            "polygon": [[0.04, 0.08], [0.3, 0.08], [0.3, 0.5], [0.04, 0.5]]}
    outside = api(base, "chaoyang")
    assert outside.get("/api/v1/live/cc-nanguan/cam1/snapshot.jpg").status_code == 404
    assert outside.post("/api/v1/live/cc-nanguan/cam1/offer", json={"sdp": "v=0 " * 5, "type": "offer"}
                        ).status_code == 404


def test_bad_offer_is_422(live_served: tuple[str, object]) -> None:
    client = api(live_served[0], "operator")
    response = client.post("/api/v1/live/cc-nanguan/cam1/offer", json={"sdp": "v=0\r\nnonsense\r\n", "type": "offer"})
    assert response.status_code == 422, response.text
    assert client.post("/api/v1/live/cc-nanguan/cam1/offer", json={"sdp": "x" * 20, "type": "answer"}
                       ).status_code == 422
    assert client.post("/api/v1/live/cc-nanguan/nope/offer", json={"sdp": "x" * 20, "type": "offer"}
                       ).status_code == 404


def test_snapshot_and_mjpeg(live_served: tuple[str, object], live_pool: ConnectionPool) -> None:
    base, app = live_served
    operator = api(base, "operator")
    response = operator.get("/api/v1/live/cc-nanguan/cam1/snapshot.jpg")
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    image = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (720, 1280, 3)

    jpegs = []
    with operator.stream("GET", "/api/v1/live/cc-nanguan/cam2/mjpeg") as stream:
        assert stream.headers["content-type"].startswith("multipart/x-mixed-replace; boundary=")
        buffer = b""
        for chunk in stream.iter_bytes():
            buffer += chunk
            while b"\xff\xd9" in buffer and b"\xff\xd8" in buffer:
                start = buffer.index(b"\xff\xd8")
                end = buffer.index(b"\xff\xd9", start) + 2
                jpegs.append(buffer[start:end])
                buffer = buffer[end:]
            if len(jpegs) >= 3:
                break
    frames = [cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR) for j in jpegs[:3]]
    assert all(f is not None and f.shape == (720, 1280, 3) for f in frames)
    source = app.state.live_wall.source("cc-nanguan", "cam2")  # type: ignore[attr-defined]
    assert one_connection_for_all_viewers(connection_stats(source)), connection_stats(source)

    staff = api(base, "staff").get("/api/v1/live/cc-nanguan/cam1/snapshot.jpg")
    assert staff.status_code == 200 and staff.content != response.content
    with live_pool.connection() as conn:
        actions = conn.execute("SELECT action, subject FROM audit_log ORDER BY id").fetchall()
    views = [a for a in actions if a[0].startswith("live.")]
    # The operator's unblurred snapshot and MJPEG view are audited; the staff's blurred one is not.
    assert views == [("live.snapshot", "camera/cc-nanguan/cam1"), ("live.view", "camera/cc-nanguan/cam2")]


def test_dead_camera_snapshot_is_503(live_served: tuple[str, object]) -> None:
    response = api(live_served[0], "operator").get("/api/v1/live/cc-chaoyang/cam1/snapshot.jpg")
    assert response.status_code == 503 and "sends no pictures" in response.json()["detail"]



def test_pipeline_results_reach_the_overlay_only_while_watched() -> None:
    from analytics.camera import CameraResult
    from analytics.presence import DeskReading, DeskState
    from models.detections import Detections
    from monitor.live.overlay import OverlayHub, publish_results

    hub = OverlayHub()
    listener = publish_results(hub)
    result = CameraResult(ts=100.0, people=1, desks={"w1": DeskReading(DeskState.present, 90.0)},
                          desk_people={"w1": 1}, zones={"q1": 2})
    boxes = Detections(xyxy=np.array([[128, 72, 256, 360]], np.float32), confidence=np.array([0.9], np.float32),
                       class_id=np.array([0], np.int32))
    listener("h", "c", result, boxes, (1280, 720))
    assert hub.latest("h", "c") is None  # nobody watches: nothing built
    seen = []
    unsubscribe = hub.subscribe("h", "c", seen.append)
    listener("h", "c", result, boxes, (1280, 720))
    unsubscribe()
    assert len(seen) == 1
    assert seen[0].boxes == ((0.1, 0.1, 0.2, 0.5),)
    assert seen[0].desks == {"w1": "present"} and seen[0].zones == {"q1": 2}
