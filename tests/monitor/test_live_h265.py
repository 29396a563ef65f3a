"""The live wall plays H.265 cameras (issue 14), in Debian's headless Chromium, which has no H.265
decoder for WebRTC (`RTCRtpReceiver.getCapabilities('video')` lists VP8, VP9, H.264 and AV1 only):
two viewers of an H.265 camera share the camera's one transcode to H.264, a camera with an H.264
sub-stream is played from the sub-stream, not transcoded, and hall staff get the face-blurred stream
of an H.265 camera. The cameras are the project's live simulator (run in a thread, as it takes a codec
per camera there), serving both of the first hall's cameras in H.265 and the second one's sub-stream
in H.264 at its `detect_url`."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest

from core.config import SiteConfig, load_site
from monitor.live.h264 import is_keyframe
from monitor.live.reencode import output_size
from tests.fix_auth import page_login
from tests.fix_live import connection_stats, one_connection_for_all_viewers
from tests.fix_sites import free_port, site_with_port, write_site
from tests.fix_web import ARTIFACTS
from tools.simulator import run_simulator

WAIT_MS = 30_000
TRANSCODED = ("cc-nanguan", "cam1")  # H.265, no sub-stream
WITH_SUB = ("cc-nanguan", "cam2")    # H.265, an H.264 sub-stream at its detect_url


# -- pure parts ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("codec", "data", "key"), [
    ("hevc", b"\x00\x00\x00\x01\x40\x01\x0c" + b"\x00\x00\x01\x42\x01\x01" + b"\x00\x00\x01\x26\x01\xaf", True),  # IDR
    ("hevc", b"\x00\x00\x00\x01\x2a\x01\xaf", True),                                                          # CRA
    ("hevc", b"\x00\x00\x00\x01\x02\x01\xd0", False),                                                         # TRAIL_R
    ("h264", b"\x00\x00\x01\x65\x88", True),
    ("h264", b"\x00\x00\x01\x26\x01\xaf", False),  # an H.265 IDR read as H.264: not an IDR
])
def test_keyframes_of_each_codec(codec: str, data: bytes, key: bool) -> None:
    assert is_keyframe(codec, data) is key


@pytest.mark.parametrize(("size", "max_height", "out"), [
    ((1280, 720), 720, (1280, 720)),
    ((3840, 2160), 720, (1280, 720)),
    ((2560, 1440), 480, (852, 480)),
    ((704, 576), 720, (704, 576)),
    ((1279, 719), 1080, (1278, 718)),  # even, as x264's 4:2:0 needs
])
def test_reencoded_size_is_bounded(size: tuple[int, int], max_height: int, out: tuple[int, int]) -> None:
    assert output_size(*size, max_height) == out


# -- the simulator, the app and Chromium -----------------------------------------------------------------

@pytest.fixture(scope="module")
def live_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SiteConfig]:
    """fix_live's site (its pool and app use it), with the first hall's cameras in H.265 and cam2's
    H.264 sub-stream; the second hall's camera is not served."""
    tmp = tmp_path_factory.mktemp("live-h265")
    raw = site_with_port(free_port())
    raw["halls"] = raw["halls"][:2]
    cameras = raw["halls"][0]["cameras"]
    cameras[1]["detect_url"] = cameras[1]["url"] + "/sub"
    raw["halls"][1]["cameras"][0]["url"] = cameras[0]["url"].replace("cc-nanguan-1", "nowhere")
    site = load_site(write_site(tmp / "site.yaml", raw))
    served = load_site(write_site(tmp / "served.yaml", dict(raw, halls=raw["halls"][:1])))
    ready, stop = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            run_simulator(served, truth_dir=tmp / "truth", seed=5, gop_s=2.0, ready=ready.set, stop=stop,
                          codecs={"/".join(TRANSCODED): "h265", "/".join(WITH_SUB): "h265"})
        except BaseException as exc:  # reported by the fixture, not lost in the thread
            errors.append(exc)

    thread = threading.Thread(target=serve, name="simulator", daemon=True)
    thread.start()
    assert ready.wait(60), errors
    yield site
    stop.set()
    thread.join(15)


def wall_page(browser, base: str, tiles: list[str | None], user: str = "operator"):  # type: ignore[no-untyped-def]
    """`user`'s wall with these tiles (2x2), playing."""
    page = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    page_login(page, base, "/live", user)
    page.evaluate("s => localStorage.setItem('hallwatch.live.v1', s)",
                  json.dumps({"layout": "2x2", "tiles": tiles, "modes": {}, "overlay": True}))
    page.reload()
    return page


def played(page, tile: int, frames: int) -> dict:  # type: ignore[no-untyped-def]
    """The tile's state once `frames` frames were decoded in the page (requestVideoFrameCallback)."""
    page.wait_for_function(f"() => window.hallwatchLive.tiles[{tile}].stats.frames >= {frames}", timeout=WAIT_MS)
    return page.evaluate(f"""() => {{
        const t = window.hallwatchLive.tiles[{tile}];
        return {{mode: t.stats.mode, rtp: t.stats.rtp, currentTime: t.video.currentTime,
                 width: t.video.videoWidth, height: t.video.videoHeight, blurred: t.el.dataset.blurred}};
    }}""")


def test_two_viewers_of_an_h265_camera_share_one_transcode(browser, live_served) -> None:
    base, app = live_served
    key = "/".join(TRANSCODED)
    page = wall_page(browser, base, [key, key, None, None])
    for tile in (0, 1):
        tile_state = played(page, tile, 30)
        assert tile_state["mode"] == "webrtc" and tile_state["blurred"] == "false", tile_state
        assert (tile_state["width"], tile_state["height"]) == (1280, 720) and tile_state["currentTime"] > 0
        rtp = tile_state["rtp"]
        assert len(rtp) >= 25 and all(b > a for a, b in zip(rtp, rtp[1:], strict=False)), rtp
    t0 = page.evaluate("() => window.hallwatchLive.tiles[1].video.currentTime")
    page.wait_for_function(f"() => window.hallwatchLive.tiles[1].video.currentTime > {t0} + 0.5", timeout=WAIT_MS)

    wall = app.state.live_wall
    source, transcode = wall.source(*TRANSCODED), wall.transcoded(*TRANSCODED)
    assert source.codec == "hevc" and source.browser_decodable is False
    assert source.packets.count == 0 and source.packets.published == 0  # H.265 is never forwarded as it is
    assert one_connection_for_all_viewers(connection_stats(source)), connection_stats(source)
    # One transcode for both viewers: one encoding thread ever started, one encoder, two subscribers.
    assert list(wall.transcodes()) == [key]
    assert transcode.packets.count == 2 and wall.peers == 2
    assert (transcode.runs, transcode.running, transcode.encoders) == (1, 1, 1)
    assert transcode.size == (1280, 720) and transcode.encoded >= 30
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "live-wall-h265.png"))

    # MJPEG of the H.265 camera: decoded from the same connection.
    page.click('[data-tile="0"] button.mode')
    page.wait_for_function("() => { const i = document.querySelector('[data-tile=\"0\"] img.mjpeg');"
                           " return !i.hidden && i.naturalWidth === 1280; }", timeout=WAIT_MS)
    assert one_connection_for_all_viewers(connection_stats(source)), connection_stats(source)
    assert transcode.runs == 1 and transcode.encoders == 1


def test_a_camera_with_an_h264_substream_is_played_from_it(browser, live_served) -> None:
    base, app = live_served
    page = wall_page(browser, base, ["/".join(WITH_SUB), None, None, None])
    tile_state = played(page, 0, 20)
    assert tile_state["mode"] == "webrtc" and (tile_state["width"], tile_state["height"]) == (640, 360), tile_state

    wall = app.state.live_wall
    main, sub = wall.source(*WITH_SUB), wall.substream(*WITH_SUB)
    assert sub is not None and sub.codec == "h264" and sub.browser_decodable is True
    assert sub.packets.count == 1 and sub.packets.published >= 20
    assert one_connection_for_all_viewers(connection_stats(sub)), connection_stats(sub)
    assert main.codec == "hevc" and main.packets.count == 0
    assert wall.transcodes() == {}  # nothing transcoded


def test_hall_staff_get_the_blurred_stream_of_an_h265_camera(browser, live_served) -> None:
    base, app = live_served
    page = wall_page(browser, base, ["/".join(TRANSCODED), None, None, None], user="staff")
    tile_state = played(page, 0, 20)
    assert tile_state["mode"] == "webrtc" and tile_state["blurred"] == "true", tile_state
    assert (tile_state["width"], tile_state["height"]) == (1280, 720)
    wall = app.state.live_wall
    blurred = wall.blurred(*TRANSCODED)
    assert blurred.packets.count == 1 and blurred.encoders == 1 and blurred.encoded >= 20
    assert wall.transcodes() == {}  # faces are never sent unblurred to this role, transcoded or not
    assert wall.source(*TRANSCODED).packets.published == 0
