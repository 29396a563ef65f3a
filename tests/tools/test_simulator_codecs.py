"""Cameras as they are, over real RTSP: the clip server's realistic profile (busy noisy hall, 25 fps,
a keyframe every GOP, H.264 or H.265, a 640x360 sub-stream, joining mid-GOP) and the live simulator's
H.265 camera and H.264 sub-stream, read back with PyAV. The clips are short (2 s, a keyframe every
second) to keep encoding quick; the live simulator keeps a keyframe every 2 s."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import numpy as np
import pytest

from core.config import load_site
from tests.fix_sites import EXAMPLE_SITE, REPO, free_port
from tools.simulator import run_simulator
from tools.simulator.clip import Realistic, parameter_sets, realistic_clips
from tools.simulator.errors import SimulatorError

RTSP_OPTIONS = {"rtsp_transport": "tcp", "timeout": "5000000"}
FPS = 25
GOP_S = 2  # the live simulator
CLIP_S, CLIP_GOP_S = 2, 1  # the clip server


def read(url: str, packets: int) -> tuple[av.video.stream.VideoStream, list[av.Packet], list[np.ndarray]]:
    """The stream, its first `packets` packets (after any that carry nothing) and the frames they decode to."""
    with av.open(url, options=RTSP_OPTIONS, timeout=(10, 5)) as container:
        stream = container.streams.video[0]
        got: list[av.Packet] = []
        frames: list[np.ndarray] = []
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            got.append(packet)
            frames += [frame.to_ndarray(format="gray") for frame in packet.decode()]
            if len(got) >= packets:
                break
        return stream, got, frames


def keyframe_positions(packets: list[av.Packet]) -> list[int]:
    return [i for i, packet in enumerate(packets) if packet.is_keyframe]


def start_clip_server(port: int, *extra: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "tools.simulator.clip", "--cameras", "2", "--port", str(port),
                             "--profile", "realistic", "--seconds", str(CLIP_S), "--gop-s", str(CLIP_GOP_S), *extra],
                            stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both codecs' clips, encoded once for the module."""
    path = tmp_path_factory.mktemp("clips")
    for codec in ("h264", "h265"):
        realistic_clips(Realistic(seconds=CLIP_S, gop_s=CLIP_GOP_S, codec=codec), path)
    return path


@pytest.fixture(scope="module", params=["h264", "h265"])
def realistic_server(request: pytest.FixtureRequest, cache_dir: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    proc = start_clip_server(port, "--codec", request.param, "--substream", "--cache-dir", str(cache_dir))
    yield request.param, port
    proc.terminate()
    proc.wait(10)


def test_realistic_main_stream_is_a_camera(realistic_server: tuple[str, int]) -> None:
    codec, port = realistic_server
    stream, packets, frames = read(f"rtsp://127.0.0.1:{port}/cam1", 3 * FPS * CLIP_GOP_S)
    assert stream.codec_context.name == {"h264": "h264", "h265": "hevc"}[codec]
    assert (stream.codec_context.width, stream.codec_context.height) == (1280, 720)
    assert stream.codec_context.profile == "Main"
    assert stream.codec_context.framerate == FPS  # the stream's own timing information
    keys = keyframe_positions(packets)
    assert len(keys) >= 2 and {b - a for a, b in zip(keys, keys[1:], strict=False)} == {FPS * CLIP_GOP_S}
    # Joined mid-GOP, as with a camera: the first packet is not a keyframe (the camera's phase is 3.7 s,
    # not a whole number of keyframe intervals), and pictures come from the first keyframe on.
    assert keys[0] > 0
    assert len(frames) >= len(packets) - keys[0] - 2
    # Fresh sensor noise: no two consecutive pictures are the same.
    assert all(not np.array_equal(a, b) for a, b in zip(frames, frames[1:], strict=False))


def test_realistic_substream_is_640x360_h264(realistic_server: tuple[str, int]) -> None:
    _, port = realistic_server
    stream, packets, frames = read(f"rtsp://127.0.0.1:{port}/cam0/sub", 2 * FPS * CLIP_GOP_S + 5)
    assert stream.codec_context.name == "h264" and stream.codec_context.framerate == FPS
    assert frames and all(frame.shape == (360, 640) for frame in frames)
    keys = keyframe_positions(packets)
    assert len(keys) >= 2 and all(b - a == FPS * CLIP_GOP_S for a, b in zip(keys, keys[1:], strict=False))


def test_b_frames_are_shown_in_order(cache_dir: Path) -> None:
    """H.264 high profile with B-frames: decode order differs from display order, and the pictures
    come out with rising timestamps."""
    port = free_port()
    proc = start_clip_server(port, "--bframes", "2", "--cache-dir", str(cache_dir))
    try:
        with av.open(f"rtsp://127.0.0.1:{port}/cam0", options=RTSP_OPTIONS, timeout=(10, 5)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.profile == "High"
            packets: list[tuple[int | None, int | None]] = []
            shown: list[int] = []
            for packet in container.demux(stream):
                if packet.size:
                    packets.append((packet.pts, packet.dts))
                    shown += [frame.pts for frame in packet.decode() if frame.pts is not None]
                if len(packets) >= 3 * FPS * CLIP_GOP_S:
                    break
    finally:
        proc.terminate()
        proc.wait(10)
    assert any(pts != dts for pts, dts in packets if pts is not None), "B-frames reorder"
    assert len(shown) >= FPS and all(b > a for a, b in zip(shown, shown[1:], strict=False))


def test_parameter_sets_are_found_for_both_codecs(cache_dir: Path) -> None:
    for codec, kinds in (("h264", 2), ("h265", 3)):
        main, sub = realistic_clips(Realistic(seconds=CLIP_S, gop_s=CLIP_GOP_S, codec=codec, substream=True),
                                    cache_dir)
        assert sub is not None and len(main.units) == len(sub.units) == CLIP_S * FPS
        assert main.keyframes.count(True) == CLIP_S // CLIP_GOP_S
        headers = parameter_sets(main.units[0], codec)
        assert headers.count(b"\x00\x00\x00\x01") == kinds
        assert parameter_sets(main.units[1], codec) == b""


def test_realistic_settings_are_checked() -> None:
    for bad in (Realistic(gop_s=5), Realistic(gop_s=0.5), Realistic(seconds=5), Realistic(codec="vp9"),
                Realistic(bframes=9)):
        with pytest.raises(SimulatorError):
            bad.check()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The live simulator: the example's first camera in H.265 with a keyframe every 2 s, its second in
    H.264 with its sub-stream at its detect_url."""
    port, example = free_port(), load_site(EXAMPLE_SITE)
    hall, base = example.halls[0], f"rtsp://127.0.0.1:{port}"
    first, second = hall.cameras[:2]
    cameras = [first.model_copy(update={"url": f"{base}/main1"}),
               second.model_copy(update={"url": f"{base}/main2", "detect_url": f"{base}/main2/sub"})]
    site = example.model_copy(update={"halls": [hall.model_copy(update={"cameras": cameras})]})
    ready, stop = threading.Event(), threading.Event()
    with ThreadPoolExecutor(1) as pool:
        serving = pool.submit(run_simulator, site, truth_dir=tmp_path_factory.mktemp("live"), seed=5, fps=FPS,
                              gop_s=GOP_S, ready=ready.set, stop=stop, codecs={f"{hall.id}/{first.id}": "h265"})
        try:
            if not ready.wait(60) or serving.done():
                pytest.fail(f"the simulator did not start: {serving.exception() if serving.done() else 'no answer'}")
            yield port
        finally:
            stop.set()
        serving.result(15)


@pytest.mark.parametrize(("path", "codec", "size"), [("main1", "hevc", (1280, 720)), ("main2", "h264", (1280, 720)),
                                                     ("main2/sub", "h264", (640, 360))])
def test_live_simulator_serves_each_codec(live: int, path: str, codec: str, size: tuple[int, int]) -> None:
    stream, packets, frames = read(f"rtsp://127.0.0.1:{live}/{path}", FPS * GOP_S + 5)
    assert stream.codec_context.name == codec and stream.codec_context.framerate == FPS
    assert frames and all(frame.shape == size[::-1] for frame in frames)
    keys = keyframe_positions(packets)
    assert keys[0] == 0 and FPS * GOP_S in keys  # a new stream's encoder starts at a keyframe


def test_live_simulator_refuses_an_unknown_codec(tmp_path: Path) -> None:
    with pytest.raises(SimulatorError, match="codec"):
        run_simulator(load_site(EXAMPLE_SITE), truth_dir=tmp_path, codecs={"x/y": "vp9"})
