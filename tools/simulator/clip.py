"""Many simulated cameras for little CPU: one pre-encoded clip of a simulated hall, served in a loop as
N RTSP cameras.

The live simulator (`tools.simulator.server`) encodes every camera as it plays (~4-5 % of a core
per 1280x720 camera), which would take the cores a benchmark means to measure. Here the clip is
encoded once, at start, and each camera's stream is its access units pushed in turn by one feeder
thread on a monotonic schedule: pacing comes from that clock (and each buffer is timestamped when
pushed), not from file timestamps, so the streams play at exactly the clip's rate however often they
loop. Each camera starts at its own point of the clip, so the cameras' scenes change at different
moments.

Two profiles:
- `simple` (the default): the simulator's scripted scene, 10 fps, H.264 constrained baseline, a keyframe
  every second, frames bit-identical between scripted changes; a client joining a stream is served
  from the next keyframe on.
- `realistic`: a busy hall (the `crowded-queue` evaluation scene: a two-row queue shuffling forward,
  people walking in, to three windows and the kiosks, seated officers) with fresh sensor noise on every
  frame, 25 fps, a keyframe every `--gop-s` seconds, H.264 (main, or high with B-frames) or H.265 at a
  camera's constant bitrate, and with `--substream` a 640x360 H.264 sub-stream of each camera at
  /cam<i>/sub. As a camera does, a client joining a stream is served from the current frame, mid-GOP
  (with the parameter sets first, as a camera's SDP carries them): it sees a picture from the next
  keyframe on. Encoded clips are cached (`--cache-dir`), as encoding takes about a minute.

    python -m tools.simulator.clip --cameras 32 --port 8554 [--seconds 60] [--seed 7]
    python -m tools.simulator.clip --cameras 32 --port 8554 --profile realistic [--codec h265]
        [--gop-s 2] [--bframes 2] [--substream]

serves rtsp://127.0.0.1:PORT/cam0 ... /cam31 (and /cam0/sub ...) and prints `ready` once they listen.
"""

from __future__ import annotations

import argparse
import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import gi
import numpy as np

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
    "leaky-type=downstream caps=video/x-{codec},stream-format=byte-stream,alignment=au "
    "! {codec}parse ! rtp{codec}pay name=pay0 pt=96 config-interval=-1 )"
)
READY_LINE = "ready"
PHASE_STEP_S = 3.7  # camera i starts i * 3.7 s into the clip (modulo its length)
SUBSTREAM_PATH = "sub"  # /cam<i>/sub
SUBSTREAM_SIZE = (640, 360)
CODECS = ("h264", "h265")
CACHE_VERSION = 2  # bump when the realistic clip's rendering or encoding changes
_STOP_POLL_MS = 100
# Annex B NAL unit types of the parameter sets: H.264 SPS, PPS; H.265 VPS, SPS, PPS.
_PARAMETER_SETS = {"h264": {7, 8}, "h265": {32, 33, 34}}


@dataclass(frozen=True)
class Clip:
    """Access units of a clip in decode order (Annex B, parameter sets before every keyframe) and the
    truth it shows."""

    units: list[bytes]
    keyframes: list[bool]
    fps: int
    width: int
    height: int
    truth: list[tuple[float, CameraTruth]]  # (seconds into the clip, what it shows from then on)
    codec: str = "h264"
    pts_delay: list[int] = field(default_factory=list)  # frames each unit is shown after it is decoded (B-frames)
    mid_gop: bool = False  # a joining client gets the current frame (a camera), not the next keyframe

    @property
    def seconds(self) -> float:
        return len(self.units) / self.fps

    def delay(self, position: int) -> int:
        return self.pts_delay[position] if self.pts_delay else 0


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


# -- the realistic profile -----------------------------------------------------------------------


@dataclass(frozen=True)
class Realistic:
    """How the realistic clip looks and is encoded (the key of its cache entry)."""

    seconds: int = 60
    fps: int = 25
    gop_s: float = 2.0
    codec: str = "h264"  # main stream: h264 | h265
    bframes: int = 0  # H.264 high profile when > 0
    bitrate: int = 3_000_000  # main stream, constant as a camera's
    noise: float = 2.5  # sensor noise, grey levels (sigma), fresh on every frame
    substream: bool = False  # also a 640x360 H.264 sub-stream
    sub_bitrate: int = 512_000
    seed: int = 7

    @property
    def gop(self) -> int:
        return round(self.gop_s * self.fps)

    def check(self) -> None:
        if self.codec not in CODECS:
            raise SimulatorError(f"codec must be one of {', '.join(CODECS)}, not {self.codec}")
        if not 1 <= self.gop_s <= 4 or abs(self.gop_s * self.fps - self.gop) > 1e-6:
            raise SimulatorError(f"a keyframe every 1-4 s, a whole number of frames, not {self.gop_s} s")
        if not 0 <= self.bframes <= 4:
            raise SimulatorError(f"B-frames 0-4, not {self.bframes}")
        if not 5 <= self.fps <= 30:
            raise SimulatorError(f"fps 5-30, not {self.fps}")
        if self.seconds < self.gop_s or (self.seconds * self.fps) % self.gop:
            raise SimulatorError(f"a clip is a whole number of keyframe intervals, not {self.seconds} s")

    def key(self) -> str:
        """What the cached clips depend on (the sub-stream is always encoded: it is served or not)."""
        fields = {k: v for k, v in dataclasses.asdict(self).items() if k != "substream"}
        return hashlib.sha256(json.dumps([CACHE_VERSION, fields], sort_keys=True).encode()).hexdigest()[:16]

    def describe(self) -> str:
        codec = "H.265" if self.codec == "h265" else f"H.264 {'high' if self.bframes else 'main'}"
        sub = ", 640x360 H.264 sub-stream" if self.substream else ""
        return (f"busy hall, 1280x720 {codec} {self.fps} fps, keyframe every {self.gop_s:g} s, "
                f"{self.bframes} B-frames, {self.bitrate / 1e6:g} Mbit/s, noise {self.noise:g}{sub}")


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hallwatch" / "clips"


def realistic_clips(settings: Realistic, cache_dir: Path | None = None) -> tuple[Clip, Clip | None]:
    """The realistic main clip (and sub-stream clip), from the cache when it has them."""
    settings.check()
    main, sub = _encoded(settings) if cache_dir is None else _cached(settings, cache_dir)
    return main, sub if settings.substream else None


def _cached(settings: Realistic, cache_dir: Path) -> tuple[Clip, Clip | None]:
    path = cache_dir / f"realistic-{settings.key()}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    # One process encodes (minutes) while others wanting the same clip wait for it: parallel test
    # workers and benches share the cache.
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.is_file():
            try:
                return _load_clips(path, settings)
            except (OSError, ValueError, KeyError) as exc:
                logger.warning("%s: unreadable cached clip (%s); encoding again", path, exc)
        main, sub = _encoded(settings)
        _save_clips(path, main, sub)
        return main, sub


def _encoded(settings: Realistic) -> tuple[Clip, Clip]:
    started = time.monotonic()
    main, sub = encode_realistic(settings)
    logger.info("encoded the realistic clip in %.0f s", time.monotonic() - started)
    return main, sub


def encode_realistic(settings: Realistic) -> tuple[Clip, Clip]:
    """Render the busy hall frame by frame (fresh noise on each) and encode it as a camera would: the
    main stream and a 640x360 H.264 sub-stream."""
    from tools.evaluate.generate import CLIPS
    from tools.evaluate.hallscene import HEIGHT, WIDTH, Hall

    spec = next(c for c in CLIPS if c.id == "crowded-queue")
    # The evaluation clip as it is (officers sit still: swaying ones would make ~95 % of frames
    # "moved" for the motion gate, against ~60 % here), at the camera's rate and with its noise.
    spec = dataclasses.replace(spec, seed=settings.seed, duration_s=settings.seconds, fps=settings.fps,
                               noise=settings.noise)
    hall = Hall.build(spec)
    main = _Encoder(settings.codec, WIDTH, HEIGHT, settings.fps, settings.gop, settings.bframes, settings.bitrate)
    sub = _Encoder("h264", *SUBSTREAM_SIZE, settings.fps, settings.gop, 0, settings.sub_bitrate)
    for index in range(settings.seconds * settings.fps):
        if index:
            hall.step()
        image = hall.render()
        main.encode(image, index)
        sub.encode(cv2.resize(image, SUBSTREAM_SIZE, interpolation=cv2.INTER_AREA), index)
    return main.finish(), sub.finish()


class _Encoder:
    """A camera's encoder: closed GOPs of a fixed length, no scene cuts, constant bitrate, parameter
    sets repeated before every keyframe."""

    def __init__(self, codec: str, width: int, height: int, fps: int, gop: int, bframes: int, bitrate: int):
        self.codec_name, self.fps, self.width, self.height = codec, fps, width, height
        self.context = av.CodecContext.create("libx265" if codec == "h265" else "libx264", "w")
        ctx = self.context
        ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
        ctx.time_base = Fraction(1, fps)
        ctx.framerate = Fraction(fps, 1)
        ctx.bit_rate = bitrate
        kbps = bitrate // 1000
        common = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes={bframes}:repeat-headers=1"
        if codec == "h265":
            ctx.options = {"preset": "ultrafast", "x265-params": f"{common}:open-gop=0:vbv-maxrate={kbps}:"
                           f"vbv-bufsize={kbps}:log-level=error:frame-threads=2:pools=2"}
        else:
            ctx.thread_count = 2  # frame threads, not slices: one slice per access unit
            ctx.options = {"preset": "veryfast", "profile": "high" if bframes else "main",
                           "x264-params": f"{common}:sliced-threads=0:vbv-maxrate={kbps}:vbv-bufsize={kbps}"}
        self.units: list[bytes] = []
        self.keyframes: list[bool] = []
        self.delays: list[int] = []

    def encode(self, bgr: np.ndarray, index: int) -> None:
        frame = av.VideoFrame.from_ndarray(bgr, format="bgr24").reformat(format="yuv420p")
        frame.pts = index
        self._take(self.context.encode(frame))

    def _take(self, packets: list[av.Packet]) -> None:
        for packet in packets:
            self.units.append(bytes(packet))
            self.keyframes.append(bool(packet.is_keyframe))
            pts, dts = packet.pts, packet.dts
            self.delays.append(int(pts - dts) if pts is not None and dts is not None else 0)

    def finish(self) -> Clip:
        self._take(self.context.encode(None))
        if not self.keyframes or not self.keyframes[0]:
            raise SimulatorError(f"the {self.codec_name} encoder gave no keyframe first")
        return Clip(self.units, self.keyframes, self.fps, self.width, self.height, [], self.codec_name,
                    self.delays, mid_gop=True)


def _save_clips(path: Path, main: Clip, sub: Clip) -> None:
    arrays: dict[str, Any] = {}
    for name, clip in (("main", main), ("sub", sub)):
        arrays[f"{name}_data"] = np.frombuffer(b"".join(clip.units), np.uint8)
        arrays[f"{name}_sizes"] = np.array([len(u) for u in clip.units], np.int64)
        arrays[f"{name}_keyframes"] = np.array(clip.keyframes, bool)
        arrays[f"{name}_delays"] = np.array(clip.pts_delay, np.int64)
        arrays[f"{name}_meta"] = np.array([clip.fps, clip.width, clip.height, CODECS.index(clip.codec)], np.int64)
    partial = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(partial, **arrays)
    partial.replace(path)


def _load_clips(path: Path, settings: Realistic) -> tuple[Clip, Clip | None]:
    with np.load(path) as data:
        clips: dict[str, Clip] = {}
        for name in ("main", "sub") if settings.substream else ("main",):
            raw = data[f"{name}_data"].tobytes()
            ends = np.cumsum(data[f"{name}_sizes"])
            starts = np.concatenate([[0], ends[:-1]])
            fps, width, height, codec = (int(v) for v in data[f"{name}_meta"])
            clips[name] = Clip([raw[a:b] for a, b in zip(starts, ends, strict=True)],
                               [bool(k) for k in data[f"{name}_keyframes"]], fps, width, height, [], CODECS[codec],
                               [int(d) for d in data[f"{name}_delays"]], mid_gop=True)
    return clips["main"], clips.get("sub")


def parameter_sets(unit: bytes, codec: str) -> bytes:
    """The parameter-set NAL units (with their start codes) at the head of a keyframe's access unit."""
    wanted = _PARAMETER_SETS[codec]
    found = []
    for nal in _nal_units(unit):
        kind = (nal[0] & 0x1F) if codec == "h264" else (nal[0] >> 1) & 0x3F
        if kind in wanted:
            found.append(b"\x00\x00\x00\x01" + nal)
    return b"".join(found)


def _nal_units(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte stream, without their start codes."""
    starts: list[tuple[int, int]] = []
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        starts.append((i, i + 3))
        i = data.find(b"\x00\x00\x01", i + 3)
    units = []
    for n, (_, payload) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else len(data)
        chunk = data[payload:end]
        if n + 1 < len(starts) and chunk.endswith(b"\x00"):
            chunk = chunk[:-1]  # the leading zero of a four-byte start code
        units.append(chunk)
    return units


# -- serving ------------------------------------------------------------------------------------


class _Track:
    """One stream of one camera (its main stream or its sub-stream): the clip's buffers, pushed from
    the camera's phase to every client media attached."""

    def __init__(self, clip: Clip, phase: int, buffers: list[Gst.Buffer]) -> None:
        self.clip = clip
        self.phase = phase
        self.buffers = buffers
        self._lock = threading.Lock()
        self._appsrcs: list[Any] = []
        self._fresh: set[int] = set()  # appsrcs (by id) that have not had a buffer yet
        headers = next(u for u, k in zip(clip.units, clip.keyframes, strict=True) if k)
        self._parameter_sets = parameter_sets(headers, clip.codec) if clip.mid_gop else b""

    def attach(self, appsrc: Any) -> None:
        with self._lock:
            self._appsrcs.append(appsrc)
            self._fresh.add(id(appsrc))

    def detach(self, appsrc: Any) -> None:
        with self._lock:
            if appsrc in self._appsrcs:
                self._appsrcs.remove(appsrc)
            self._fresh.discard(id(appsrc))

    def push(self, tick: int, due: float) -> None:
        """Push the tick's unit; `due` is the time.monotonic() it was scheduled for."""
        clip = self.clip
        position = (tick + self.phase) % len(clip.units)
        starts = clip.mid_gop or clip.keyframes[position]  # a new client starts here, or waits for a keyframe
        with self._lock:
            targets = [(appsrc, id(appsrc) in self._fresh) for appsrc in self._appsrcs
                       if starts or id(appsrc) not in self._fresh]
            self._fresh.difference_update(id(appsrc) for appsrc, _ in targets)
        duration = Gst.SECOND // clip.fps
        for appsrc, first in targets:
            if first and clip.mid_gop and not clip.keyframes[position]:
                # A camera's SDP carries the parameter sets; here the parser learns them from the first unit.
                fresh = Gst.Buffer.new_wrapped(self._parameter_sets + clip.units[position])
            else:
                # A new buffer on the same memory: appsrc stamps it with the time it is pushed.
                source = self.buffers[position]
                fresh = source.copy_region(Gst.BufferCopyFlags.MEMORY, 0, source.get_size())
            fresh.duration = duration
            if clip.mid_gop:
                _stamp(appsrc, fresh, due, clip.delay(position) * duration)
            appsrc.emit("push-buffer", fresh)


def _stamp(appsrc: Any, buffer: Gst.Buffer, due: float, delay: int) -> None:
    """Time-stamp as a camera does, at capture: the running time of the tick's schedule (not of the
    push, which the machine's load delays), shown `delay` ns after it is decoded (B-frames). Until the
    media plays (no clock yet), appsrc stamps the buffer when it is pushed."""
    clock = appsrc.get_clock()
    if clock is None:
        return
    captured = clock.get_time() - appsrc.get_base_time() - round((time.monotonic() - due) * Gst.SECOND)
    buffer.dts = max(0, captured)
    buffer.pts = buffer.dts + delay


class _Stream:
    """One camera: its main stream's track, and its sub-stream's."""

    def __init__(self, index: int, clip: Clip, buffers: list[Gst.Buffer], sub: Clip | None = None,
                 sub_buffers: list[Gst.Buffer] | None = None) -> None:
        self.index = index
        self.phase = round(index * PHASE_STEP_S * clip.fps) % len(clip.units)
        self.tracks = [_Track(clip, self.phase, buffers)]
        if sub is not None and sub_buffers is not None:
            self.tracks.append(_Track(sub, self.phase % len(sub.units), sub_buffers))

    def push(self, tick: int, due: float) -> None:
        for track in self.tracks:
            track.push(tick, due)


def serve_clip(clip: Clip, cameras: int, *, port: int, address: str = "127.0.0.1",
               ready: Callable[[], None] | None = None, stop: threading.Event | None = None,
               sub: Clip | None = None) -> None:
    """Serve `cameras` streams of the clip at rtsp://ADDRESS:PORT/cam<i> (and of `sub` at
    /cam<i>/sub) until `stop` is set (or SIGINT/SIGTERM in the main thread). Blocks; runs the GLib
    main loop in the calling thread."""
    if cameras < 1:
        raise SimulatorError(f"cameras must be at least 1, not {cameras}")
    if sub is not None and (sub.fps != clip.fps or len(sub.units) != len(clip.units)):
        raise SimulatorError("a sub-stream has the main stream's rate and length")
    Gst.init(None)
    stop = stop if stop is not None else threading.Event()
    buffers = [Gst.Buffer.new_wrapped(unit) for unit in clip.units]
    sub_buffers = [Gst.Buffer.new_wrapped(unit) for unit in sub.units] if sub is not None else None
    streams = [_Stream(i, clip, buffers, sub, sub_buffers) for i in range(cameras)]
    server = GstRtspServer.RTSPServer()
    server.set_address(address)
    server.set_service(str(port))
    # Each new stream waits for its first keyframe (up to a second) before it can be described: with
    # the default single thread, clients that connect together would be served one after another.
    server.get_thread_pool().set_max_threads(max(4, min(cameras * len(streams[0].tracks), 64)))
    for stream in streams:
        for track, path in zip(stream.tracks, (f"/cam{stream.index}", f"/cam{stream.index}/{SUBSTREAM_PATH}"),
                               strict=False):
            factory = GstRtspServer.RTSPMediaFactory()
            factory.set_launch(CLIP_PIPELINE.format(queue=2 * track.clip.fps, codec=track.clip.codec))
            # A media per client, as a camera's encoder feeds each session: a shared media that its last
            # client leaves is unprepared while still cached, and a client arriving then gets 503.
            factory.set_shared(False)
            factory.set_eos_shutdown(False)
            factory.connect("media-configure", _configure(track))
            server.get_mount_points().add_factory(path, factory)
    context = GLib.MainContext.new()
    context.push_thread_default()
    previous = _stop_on_signals(stop)
    feeder = threading.Thread(target=_feed, args=(clip.fps, streams, stop), name="clip-feeder", daemon=True)
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


def _configure(track: _Track) -> Callable[[Any, Any], None]:
    def configure(_factory: Any, media: Any) -> None:
        appsrc = media.get_element().get_child_by_name("src")
        media.connect("unprepared", lambda _media: track.detach(appsrc))
        track.attach(appsrc)
    return configure


def _feed(fps: int, streams: list[_Stream], stop: threading.Event) -> None:
    period = 1.0 / fps
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
            stream.push(tick, started + tick * period)
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
    parser.add_argument("--profile", choices=["simple", "realistic"], default="simple")
    parser.add_argument("--seconds", type=float, default=60.0, help="clip length (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--site", type=Path, default=EXAMPLE_SITE, help="simple: the camera is the site's first")
    realistic = parser.add_argument_group("realistic profile")
    realistic.add_argument("--codec", choices=CODECS, default="h264", help="main stream (default: %(default)s)")
    realistic.add_argument("--fps", type=int, default=25)
    realistic.add_argument("--gop-s", type=float, default=2.0, help="seconds between keyframes, 1-4 (default: 2)")
    realistic.add_argument("--bframes", type=int, default=0, help="B-frames (H.264: high profile when > 0)")
    realistic.add_argument("--bitrate", type=int, default=3000, help="main stream kbit/s (default: %(default)s)")
    realistic.add_argument("--noise", type=float, default=2.5, help="sensor noise sigma (default: %(default)s)")
    realistic.add_argument("--substream", action="store_true", help="also a 640x360 H.264 stream at /cam<i>/sub")
    realistic.add_argument("--cache-dir", type=Path, default=default_cache_dir())
    realistic.add_argument("--no-cache", action="store_true", help="encode anew and keep nothing")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.profile == "realistic":
            if args.seconds != int(args.seconds):
                raise SimulatorError(f"a clip is a whole number of seconds, not {args.seconds}")
            settings = Realistic(seconds=int(args.seconds), fps=args.fps, gop_s=args.gop_s, codec=args.codec,
                                 bframes=args.bframes, bitrate=args.bitrate * 1000, noise=args.noise,
                                 substream=args.substream, seed=args.seed)
            clip, sub = realistic_clips(settings, None if args.no_cache else args.cache_dir)
        else:
            if args.substream:
                raise SimulatorError("a sub-stream needs --profile realistic")
            site = load_site(args.site)
            hall, camera = site.cameras()[0]
            clip, sub = encode_clip(site, camera, hall.id, seconds=args.seconds, seed=args.seed), None
        serve_clip(clip, args.cameras, port=args.port, sub=sub, ready=lambda: print(READY_LINE, flush=True))
    except SimulatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
