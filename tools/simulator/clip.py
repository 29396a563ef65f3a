"""Many simulated cameras for little CPU: one pre-encoded H.264 clip of a simulated hall, served in a
loop as N RTSP cameras.

The live simulator (`tools.simulator.server`) encodes every camera as it plays (~4-5 % of a core
per 1280x720 camera), which would take the cores a benchmark means to measure. Here the clip is
encoded once, at start, and each camera's stream is its access units pushed in turn by one feeder
thread on a monotonic schedule: pacing comes from that clock (and each buffer is timestamped when
pushed), not from file timestamps, so the streams play at exactly the clip's rate however often they
loop. Each camera starts at its own point of the clip, so the cameras' scenes change at different
moments, and a client joining a stream is served from the next keyframe on.

    python -m tools.simulator.clip --cameras 32 --port 8554 [--seconds 60] [--seed 7]

serves rtsp://127.0.0.1:PORT/cam0 ... /cam31 and prints `ready` once they listen.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

from core.config import CameraConfig, SiteConfig, load_site  # noqa: E402
from tools.simulator.errors import SimulatorError  # noqa: E402
from tools.simulator.scene import SceneRenderer  # noqa: E402
from tools.simulator.script import CameraTruth, Script  # noqa: E402

logger = logging.getLogger(__name__)

EXAMPLE_SITE = Path(__file__).resolve().parents[2] / "examples" / "site.yaml"
CLIP_PIPELINE = (
    "( appsrc name=src is-live=true format=time do-timestamp=true block=false max-buffers={queue} "
    "leaky-type=downstream caps=video/x-h264,stream-format=byte-stream,alignment=au "
    "! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1 )"
)
READY_LINE = "ready"
PHASE_STEP_S = 3.7  # camera i starts i * 3.7 s into the clip (modulo its length)
_STOP_POLL_MS = 100


@dataclass(frozen=True)
class Clip:
    """Access units of an H.264 clip (Annex B, SPS/PPS before every keyframe) and the truth it shows."""

    units: list[bytes]
    keyframes: list[bool]
    fps: int
    width: int
    height: int
    truth: list[tuple[float, CameraTruth]]  # (seconds into the clip, what it shows from then on)

    @property
    def seconds(self) -> float:
        return len(self.units) / self.fps


def encode_clip(site: SiteConfig, camera: CameraConfig, hall_id: str, *, seconds: float = 60.0, fps: int = 10,
                width: int = 1280, height: int = 720, seed: int = 7, bitrate: int = 1_500_000) -> Clip:
    """The simulator's scripted scene of `camera` for `seconds`, encoded as its live streams are
    (x264 ultrafast, constrained baseline, a keyframe every second)."""
    frames = round(seconds * fps)
    if frames < fps or frames % fps:
        raise SimulatorError(f"a clip is a whole number of seconds (at least one), not {seconds}")
    script = Script(site, seed, frame_size=(width, height))
    renderer = SceneRenderer(camera, width=width, height=height, seed=seed)
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base = Fraction(1, fps)
    codec.framerate = Fraction(fps, 1)
    codec.bit_rate = bitrate
    codec.thread_count = 1  # no sliced threads: one access unit per frame on the wire (see server.PIPELINE)
    codec.options = {"preset": "ultrafast", "tune": "zerolatency", "profile": "baseline",
                     "x264-params": f"keyint={fps}:min-keyint={fps}:scenecut=0:bframes=0:repeat-headers=1"}
    units: list[bytes] = []
    keyframes: list[bool] = []
    rendered: dict[CameraTruth, av.VideoFrame] = {}
    for index in range(frames):
        truth = script.truth_at(hall_id, camera.id, index / fps)
        if truth not in rendered:
            image = av.VideoFrame.from_ndarray(renderer.render(truth), format="bgr24")
            rendered[truth] = image.reformat(format="yuv420p")
        frame = rendered[truth]
        frame.pts = index
        for packet in codec.encode(frame):
            units.append(bytes(packet))
            keyframes.append(bool(packet.is_keyframe))
    for packet in codec.encode(None):
        units.append(bytes(packet))
        keyframes.append(bool(packet.is_keyframe))
    if len(units) != frames or not keyframes[0]:
        raise SimulatorError(f"the encoder gave {len(units)} access units for {frames} frames")
    changes = [(start, truth) for start, truth in script.changes(hall_id, camera.id, frames / fps)]
    return Clip(units, keyframes, fps, width, height, changes)


class _Stream:
    """One camera: the clip from its own phase, pushed to the shared media while clients watch."""

    def __init__(self, index: int, clip: Clip) -> None:
        self.index = index
        self.phase = round(index * PHASE_STEP_S * clip.fps) % len(clip.units)
        self._lock = threading.Lock()
        self._appsrcs: list[Any] = []
        self._waiting_for_keyframe = True

    def attach(self, appsrc: Any) -> None:
        with self._lock:
            self._appsrcs.append(appsrc)
            self._waiting_for_keyframe = True

    def detach(self, appsrc: Any) -> None:
        with self._lock:
            if appsrc in self._appsrcs:
                self._appsrcs.remove(appsrc)

    def push(self, clip: Clip, tick: int, buffers: list[Gst.Buffer]) -> None:
        position = (tick + self.phase) % len(clip.units)
        with self._lock:
            if not self._appsrcs:
                return
            if self._waiting_for_keyframe and not clip.keyframes[position]:
                return
            self._waiting_for_keyframe = False
            targets = list(self._appsrcs)
        for appsrc in targets:
            # A new buffer on the same memory: appsrc stamps it with the time it is pushed.
            fresh = buffers[position].copy_region(Gst.BufferCopyFlags.MEMORY, 0, buffers[position].get_size())
            fresh.duration = Gst.SECOND // clip.fps
            appsrc.emit("push-buffer", fresh)


def serve_clip(clip: Clip, cameras: int, *, port: int, address: str = "127.0.0.1",
               ready: Callable[[], None] | None = None, stop: threading.Event | None = None) -> None:
    """Serve `cameras` streams of the clip at rtsp://ADDRESS:PORT/cam<i> until `stop` is set (or
    SIGINT/SIGTERM in the main thread). Blocks; runs the GLib main loop in the calling thread."""
    if cameras < 1:
        raise SimulatorError(f"cameras must be at least 1, not {cameras}")
    Gst.init(None)
    stop = stop if stop is not None else threading.Event()
    buffers = [Gst.Buffer.new_wrapped(unit) for unit in clip.units]
    streams = [_Stream(i, clip) for i in range(cameras)]
    server = GstRtspServer.RTSPServer()
    server.set_address(address)
    server.set_service(str(port))
    # Each new stream waits for its first keyframe (up to a second) before it can be described: with
    # the default single thread, clients that connect together would be served one after another.
    server.get_thread_pool().set_max_threads(max(4, min(cameras, 64)))
    for stream in streams:
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(CLIP_PIPELINE.format(queue=2 * clip.fps))
        factory.set_shared(True)
        factory.set_eos_shutdown(False)
        factory.connect("media-configure", _configure(stream))
        server.get_mount_points().add_factory(f"/cam{stream.index}", factory)
    context = GLib.MainContext.new()
    context.push_thread_default()
    previous = _stop_on_signals(stop)
    feeder = threading.Thread(target=_feed, args=(clip, streams, buffers, stop), name="clip-feeder", daemon=True)
    try:
        try:
            source = server.create_source(None)
        except GLib.Error as exc:
            raise SimulatorError(f"cannot listen on {address}:{port}: {exc.message}") from None
        source.attach(context)
        feeder.start()
        logger.info("serving %d camera(s) of a %.0f s clip on rtsp://%s:%d/cam0..", cameras, clip.seconds,
                    address, port)
        if ready is not None:
            ready()
        wake = GLib.timeout_source_new(_STOP_POLL_MS)
        wake.set_callback(lambda *_: True)
        wake.attach(context)
        while not stop.is_set():
            context.iteration(True)
        wake.destroy()
        source.destroy()
        server.client_filter(lambda *_: GstRtspServer.RTSPFilterResult.REMOVE)
    finally:
        stop.set()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if feeder.is_alive():
            feeder.join(5.0)
        context.pop_thread_default()


def _configure(stream: _Stream) -> Callable[[Any, Any], None]:
    def configure(_factory: Any, media: Any) -> None:
        appsrc = media.get_element().get_child_by_name("src")
        media.connect("unprepared", lambda _media: stream.detach(appsrc))
        stream.attach(appsrc)
    return configure


def _feed(clip: Clip, streams: list[_Stream], buffers: list[Gst.Buffer], stop: threading.Event) -> None:
    period = 1.0 / clip.fps
    started = time.monotonic()
    tick = 0
    while not stop.is_set():
        wait = started + tick * period - time.monotonic()
        if wait > 0 and stop.wait(wait):
            return
        late = time.monotonic() - (started + tick * period)
        if late > 1.0:  # the machine stalled: skip the missed ticks instead of bursting
            tick += int(late / period)
        for stream in streams:
            stream.push(clip, tick, buffers)
        tick += 1


def _stop_on_signals(stop: threading.Event) -> dict[signal.Signals, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous: dict[signal.Signals, Any] = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda *_: stop.set())
    return previous


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.simulator.clip", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=60.0, help="clip length (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--site", type=Path, default=EXAMPLE_SITE, help="the camera is the site's first")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    site = load_site(args.site)
    hall, camera = site.cameras()[0]
    clip = encode_clip(site, camera, hall.id, seconds=args.seconds, seed=args.seed)
    serve_clip(clip, args.cameras, port=args.port, ready=lambda: print(READY_LINE, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
