"""Serve every camera of a site file as a real RTSP stream (GStreamer's RTSP server): H.264, or H.265
for a camera `codecs` names so, and the camera's 640x360 H.264 sub-stream at its `detect_url` when
that is an address of this machine too.

One RTSP server per distinct host:port of the camera URLs, one shared media factory per camera
stream mounted at the URL's path (all clients of a stream share one encoder), basic auth when the URL
carries user:password. A feeder thread per camera runs the simulator clock: it renders a frame
only when the script's truth changes, writes the ground-truth line at that moment, and pushes the
cached frame at the target rate into the camera's pipeline when a client has one running. The
pipeline itself is built only when a client connects.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import cv2
import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

from core.config import CameraConfig, HallConfig, SiteConfig  # noqa: E402
from core.redact import redact_url  # noqa: E402
from tools.simulator.errors import SimulatorError  # noqa: E402
from tools.simulator.scene import SceneRenderer  # noqa: E402
from tools.simulator.script import CameraTruth, Script, StoryFile  # noqa: E402
from tools.simulator.truth import TruthWriter  # noqa: E402

logger = logging.getLogger(__name__)

# appsrc is timestamped by the pipeline clock when a buffer is pushed; x264 keyframes every second.
# x264 with sliced threads (zerolatency's default) makes rtph264pay (config-interval=-1) send every
# keyframe as two access units, which FFmpeg decodes as two frames, the first one partial: one
# thread per encoder, unsliced, avoids that and adds no latency (one camera is one encoder anyway).
PIPELINE = (
    "( appsrc name=src is-live=true format=time do-timestamp=true block=false "
    "max-buffers={queue} leaky-type=downstream caps={caps} "
    "! videoconvert{scale} "
    "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} bitrate={kbps} "
    "sliced-threads=false threads=1 "
    "! video/x-h264,profile=constrained-baseline "
    "! rtph264pay name=pay0 pt=96 config-interval=-1 )"
)
# x265 with one frame thread and no pool: one camera is one encoder, and the rest of the machine is
# for what is being tested. The parameter sets go with every keyframe, as with H.264.
PIPELINE_H265 = (
    "( appsrc name=src is-live=true format=time do-timestamp=true block=false "
    "max-buffers={queue} leaky-type=downstream caps={caps} "
    "! videoconvert{scale} "
    "! x265enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} bitrate={kbps} "
    "option-string=pools=1:frame-threads=1:repeat-headers=1:open-gop=0:scenecut=0 "
    "! video/x-h265,profile=main ! h265parse "
    "! rtph265pay name=pay0 pt=96 config-interval=-1 )"
)
CODECS = ("h264", "h265")
SUBSTREAM_SIZE = (640, 360)
_KBPS = {"h264": 1500, "h265": 1000, "sub": 400}
_FRAME_CACHE = 4  # rendered frames kept per camera (current, next, a few recent)
_STOP_POLL_MS = 100
_DRAIN_S = 2.0  # at most this long to let clients and pipelines wind down on stop


@dataclass(frozen=True)
class Endpoint:
    """Where one camera is served."""

    host: str
    address: str  # numeric, for binding
    port: int
    path: str
    user: str | None
    password: str | None


def camera_endpoint(camera: CameraConfig, url: str | None = None) -> Endpoint:
    """Where the camera's stream at `url` (default: its main stream) is served."""
    url = url or camera.url
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    try:
        port = parts.port or 554
    except ValueError:
        raise SimulatorError(f"camera {camera.id}: bad port in {redact_url(url)}") from None
    try:
        address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4][0]
    except socket.gaierror as exc:
        raise SimulatorError(f"camera {camera.id}: cannot resolve {host}: {exc.strerror}") from None
    return Endpoint(
        host=host,
        address=str(address),
        port=port,
        path=parts.path or "/",
        user=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def is_local_address(address: str) -> bool:
    """True if this machine can listen on the address."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((address, 0))
    except OSError:
        return False
    return True


class CameraFeed:
    """The simulator clock of one camera: renders on change, writes truth, feeds the encoder."""

    def __init__(
        self,
        hall: HallConfig,
        camera: CameraConfig,
        script: Script,
        renderer: SceneRenderer,
        writer: TruthWriter,
        fps: int,
        stop: threading.Event,
    ):
        self.hall = hall
        self.camera = camera
        self._script = script
        self._renderer = renderer
        self.writer = writer
        self._fps = fps
        self._started = 0.0  # time.monotonic() at t = 0, set by start()
        self._stop = stop
        self._frames: OrderedDict[CameraTruth, Gst.Buffer] = OrderedDict()
        self._frames_lock = threading.Lock()
        self._appsrcs: list[Any] = []
        self._lock = threading.Lock()
        self._current: Gst.Buffer | None = None
        self.first_frame = threading.Event()
        self.pushed = 0
        self.thread = threading.Thread(target=self._run, name=f"simulator:{hall.id}/{camera.id}", daemon=True)

    def start(self, started: float) -> None:
        """Start the clock; `started` is the time.monotonic() of script time 0."""
        self._started = started
        self.thread.start()

    @property
    def streaming(self) -> bool:
        """Whether a client's pipeline is running."""
        with self._lock:
            return bool(self._appsrcs)

    @property
    def name(self) -> str:
        return f"{self.hall.id}/{self.camera.id}"

    def caps(self) -> str:
        r = self._renderer
        return f"video/x-raw,format=I420,width={r.width},height={r.height},framerate={self._fps}/1"

    # -- pipeline side (GLib thread) -------------------------------------------------------------

    def attach(self, appsrc: Any) -> None:
        with self._lock:
            self._appsrcs.append(appsrc)
            current = self._current
        logger.info("%s: a client started the stream", self.name)
        if current is not None:
            appsrc.emit("push-buffer", self._fresh(current))

    def detach(self, appsrc: Any) -> None:
        with self._lock:
            if appsrc in self._appsrcs:
                self._appsrcs.remove(appsrc)
        logger.info("%s: the last client left; stream stopped", self.name)

    # -- the clock (feeder thread) ---------------------------------------------------------------

    def _frame(self, truth: CameraTruth) -> Gst.Buffer:
        with self._frames_lock:
            cached = self._frames.get(truth)
            if cached is not None:
                self._frames.move_to_end(truth)
                return cached
        bgr = self._renderer.render(truth)
        i420 = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
        buffer = Gst.Buffer.new_wrapped(i420.tobytes())
        with self._frames_lock:
            self._frames[truth] = buffer
            while len(self._frames) > _FRAME_CACHE:
                self._frames.popitem(last=False)
        return buffer

    def _push(self, buffer: Gst.Buffer) -> None:
        with self._lock:
            self._current = buffer
            targets = list(self._appsrcs)
        for appsrc in targets:
            appsrc.emit("push-buffer", self._fresh(buffer))
        self.pushed += 1

    def _fresh(self, buffer: Gst.Buffer) -> Gst.Buffer:
        """A new buffer on the same pixel memory, for appsrc to timestamp. (`Buffer.copy()` in
        Python only adds a reference to the same buffer, which then keeps its first timestamp.)"""
        fresh = buffer.copy_region(Gst.BufferCopyFlags.MEMORY, 0, buffer.get_size())
        fresh.duration = Gst.SECOND // self._fps
        return fresh

    def _run(self) -> None:
        period = 1.0 / self._fps
        tick = 0
        truth: CameraTruth | None = None
        buffer: Gst.Buffer | None = None
        prerendered_for: float | None = None
        finished = False
        try:
            while not self._stop.is_set():
                due = self._started + tick * period
                wait = due - time.monotonic()
                if wait > 0 and self._stop.wait(wait):
                    break
                late = time.monotonic() - due
                if late > 1.0:  # the machine stalled: skip the missed ticks instead of bursting
                    tick += int(late / period)
                    due = self._started + tick * period
                t = due - self._started
                segment = self._script.segment_at(self.hall.id, self.camera.id, t)
                if segment.truth != truth or buffer is None:
                    changed = segment.truth != truth
                    truth = segment.truth
                    buffer = self._frame(truth)
                    self._push(buffer)
                    if changed:
                        self.writer.write(time.time(), truth)
                        logger.debug("%s: t=%.1f %s", self.name, t, truth)
                    self.first_frame.set()
                else:
                    self._push(buffer)
                if prerendered_for != segment.end:
                    # Render the next state now, so that the change itself costs no time.
                    prerendered_for = segment.end
                    self._frame(self._script.truth_at(self.hall.id, self.camera.id, segment.end))
                tick += 1
            finished = True
        finally:
            if not finished:  # a dead feeder must not leave a stream silently frozen
                logger.error("%s: feeder failed; stopping the simulator", self.name)
                self._stop.set()
            self.first_frame.set()


@dataclass
class _Server:
    address: str
    port: int
    server: Any
    feeds: list[CameraFeed] = field(default_factory=list)
    mounts: list[tuple[Any, Endpoint]] = field(default_factory=list)  # (media factory, endpoint)
    source: Any = None


def run_simulator(
    site: SiteConfig,
    *,
    truth_dir: Path,
    seed: int = 7,
    width: int = 1280,
    height: int = 720,
    fps: int = 10,
    ready: Callable[[], None] | None = None,
    stop: threading.Event | None = None,
    story: StoryFile | None = None,
    gop_s: float = 1.0,
    codecs: Mapping[str, str] | None = None,
) -> None:
    """Serve every local camera of the site until `stop` is set or SIGINT/SIGTERM arrives.

    Blocks; runs the GLib main loop in the calling thread. `ready` is called once every server
    listens and every camera's first truth line is written. A keyframe every `gop_s` seconds; a
    camera's main stream in the codec `codecs` names for "hall/camera", else H.264.
    """
    if not 1 <= fps <= 60:
        raise SimulatorError(f"fps must be 1..60, not {fps}")
    if not 0.1 <= gop_s <= 10:
        raise SimulatorError(f"a keyframe every 0.1-10 s, not {gop_s}")
    for name, codec in (codecs or {}).items():
        if codec not in CODECS:
            raise SimulatorError(f"{name}: codec must be one of {', '.join(CODECS)}, not {codec}")
    Gst.init(None)
    stop = stop if stop is not None else threading.Event()
    script = Script(site, seed, frame_size=(width, height), story=story)
    feeds_stop = threading.Event()
    servers = _plan_servers(site, script, Path(truth_dir), seed, (width, height), fps, feeds_stop,
                            gop=max(1, round(gop_s * fps)), codecs=dict(codecs or {}))
    writers = [feed.writer for server in servers.values() for feed in server.feeds]
    context = GLib.MainContext.new()
    context.push_thread_default()
    restore_signals = _install_signal_handlers(stop)
    try:
        for server in servers.values():
            _start_server(server, context)
        started = time.monotonic()  # script time 0: the first frame of every camera
        for server in servers.values():
            for feed in server.feeds:
                feed.start(started)
        for server in servers.values():
            for feed in server.feeds:
                feed.first_frame.wait()
        if feeds_stop.is_set():
            raise SimulatorError("a camera feeder failed at start; see the log")
        logger.info(
            "simulator serving %d camera(s) on %s",
            sum(len(s.feeds) for s in servers.values()),
            ", ".join(f"{s.address}:{s.port}" for s in servers.values()) or "nothing",
        )
        if ready is not None:
            ready()
        wake = GLib.timeout_source_new(_STOP_POLL_MS)
        wake.set_callback(lambda *_: True)
        wake.attach(context)
        while not stop.is_set() and not feeds_stop.is_set():
            context.iteration(True)
        wake.destroy()
        if feeds_stop.is_set() and not stop.is_set():
            raise SimulatorError("a camera feeder failed; see the log")
    finally:
        restore_signals()
        feeds_stop.set()
        for server in servers.values():
            for feed in server.feeds:
                if feed.thread.is_alive():
                    feed.thread.join(timeout=5.0)
        _shut_down(servers.values(), context)
        context.pop_thread_default()
        for writer in writers:
            writer.close()
        logger.info("simulator stopped")


def _plan_servers(
    site: SiteConfig,
    script: Script,
    truth_dir: Path,
    seed: int,
    size: tuple[int, int],
    fps: int,
    feeds_stop: threading.Event,
    *,
    gop: int,
    codecs: dict[str, str],
) -> dict[tuple[str, int], _Server]:
    servers: dict[tuple[str, int], _Server] = {}
    paths: dict[tuple[str, int, str], str] = {}
    main_paths = set()
    for _, camera in site.cameras():
        endpoint = camera_endpoint(camera)
        main_paths.add((endpoint.address, endpoint.port, endpoint.path))
    width, height = size
    for hall, camera in site.cameras():
        endpoint = camera_endpoint(camera)
        if not is_local_address(endpoint.address):
            logger.warning(
                "%s/%s: %s is not an address of this machine; not simulated",
                hall.id,
                camera.id,
                redact_url(camera.url),
            )
            continue
        name = f"{hall.id}/{camera.id}"
        codec = codecs.get(name, "h264")
        if codec not in CODECS:
            raise SimulatorError(f"{name}: codec must be one of {', '.join(CODECS)}, not {codec}")
        _claim(paths, endpoint, name, camera.url)
        server = _server_for(servers, endpoint)
        renderer = SceneRenderer(camera, width=width, height=height, seed=seed)
        writer = TruthWriter(truth_dir, hall.id, camera.id)
        feed = CameraFeed(hall, camera, script, renderer, writer, fps, feeds_stop)
        server.feeds.append(feed)
        pipeline = PIPELINE_H265 if codec == "h265" else PIPELINE
        server.mounts.append((_mount(server, feed, endpoint, pipeline.format(
            caps=feed.caps(), gop=gop, queue=2 * fps, scale="", kbps=_KBPS[codec])), endpoint))
        logger.info("%s: serving %s (%s)", name, redact_url(camera.url), codec)
        sub = camera_endpoint(camera, camera.detect_url) if camera.detect_url else None
        if sub is not None and is_local_address(sub.address):
            key = (sub.address, sub.port, sub.path)
            if key in main_paths:  # another camera's main stream: served as that
                continue
            _claim(paths, sub, name, camera.detect_url or "")
            sub_server = _server_for(servers, sub)
            scale = " ! videoscale ! video/x-raw,width={},height={}".format(*SUBSTREAM_SIZE)
            sub_server.mounts.append((_mount(sub_server, feed, sub, PIPELINE.format(
                caps=feed.caps(), gop=gop, queue=2 * fps, scale=scale, kbps=_KBPS["sub"])), sub))
            logger.info("%s: serving its sub-stream at %s", name, redact_url(camera.detect_url or ""))
    _set_auth(servers)
    return servers


def _claim(paths: dict[tuple[str, int, str], str], endpoint: Endpoint, name: str, url: str) -> None:
    key = (endpoint.address, endpoint.port, endpoint.path)
    if key in paths:
        raise SimulatorError(f"{name} and {paths[key]} both want {redact_url(url)}")
    paths[key] = name


def _server_for(servers: dict[tuple[str, int], _Server], endpoint: Endpoint) -> _Server:
    server = servers.get((endpoint.address, endpoint.port))
    if server is None:
        rtsp = GstRtspServer.RTSPServer()
        rtsp.set_address(endpoint.address)
        rtsp.set_service(str(endpoint.port))
        server = _Server(address=endpoint.address, port=endpoint.port, server=rtsp)
        servers[(endpoint.address, endpoint.port)] = server
    return server


def _mount(server: _Server, feed: CameraFeed, endpoint: Endpoint, launch: str) -> Any:
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    factory.set_shared(True)
    factory.set_eos_shutdown(False)

    def configure(_factory: Any, media: Any) -> None:
        appsrc = media.get_element().get_child_by_name("src")
        media.connect("unprepared", lambda _media: feed.detach(appsrc))
        feed.attach(appsrc)

    factory.connect("media-configure", configure)
    server.server.get_mount_points().add_factory(endpoint.path, factory)
    return factory


def _set_auth(servers: dict[tuple[str, int], _Server]) -> None:
    """Basic auth per camera: a URL with user:password admits only those credentials; a URL
    without them admits anyone. Roles are per credential pair, so two cameras on one port may use
    different passwords.

    Clients without (valid) credentials get the default "anonymous" role. On a protected camera
    that role may *access* the factory but not *construct* media, which GStreamer answers with
    401 Unauthorized (a missing access right would answer 404, and clients would never retry
    with their credentials).
    """
    for server in servers.values():
        endpoints = [endpoint for _, endpoint in server.mounts]
        if not any(e.user is not None for e in endpoints):
            continue
        auth = GstRtspServer.RTSPAuth()
        roles: dict[tuple[str, str], str] = {}
        for endpoint in endpoints:
            if endpoint.user is None:
                continue
            pair = (endpoint.user, endpoint.password or "")
            if pair not in roles:
                roles[pair] = f"camera-user-{len(roles)}"
                token = GstRtspServer.RTSPToken()
                token.set_string("media.factory.role", roles[pair])
                auth.add_basic(GstRtspServer.RTSPAuth.make_basic(*pair), token)
        anonymous = GstRtspServer.RTSPToken()
        anonymous.set_string("media.factory.role", "anonymous")
        auth.set_default_token(anonymous)
        for factory, endpoint in server.mounts:
            permissions = GstRtspServer.RTSPPermissions()
            if endpoint.user is None:
                permissions.add_role_from_structure(_role("anonymous", construct=True))
            else:
                role = roles[(endpoint.user, endpoint.password or "")]
                permissions.add_role_from_structure(_role(role, construct=True))
                permissions.add_role_from_structure(_role("anonymous", construct=False))
            factory.set_permissions(permissions)
        server.server.set_auth(auth)


def _role(name: str, *, construct: bool) -> Gst.Structure:
    flag = "true" if construct else "false"
    return Gst.Structure.new_from_string(
        f"{name},media.factory.access=(boolean)true,media.factory.construct=(boolean){flag}"
    )


def _start_server(server: _Server, context: GLib.MainContext) -> None:
    try:
        source = server.server.create_source(None)
    except GLib.Error as exc:
        raise SimulatorError(f"cannot listen on {server.address}:{server.port}: {exc.message}") from None
    source.attach(context)
    server.source = source
    logger.info("RTSP server listening on %s:%d", server.address, server.server.get_bound_port())


def _shut_down(servers: Any, context: GLib.MainContext) -> None:
    """Stop listening, disconnect every client, and let their pipelines wind down."""
    for server in servers:
        if server.source is not None:
            server.source.destroy()
            server.source = None
        server.server.client_filter(lambda _server, _client, *_: GstRtspServer.RTSPFilterResult.REMOVE)
    deadline = time.monotonic() + _DRAIN_S
    while time.monotonic() < deadline:
        busy = any(feed.streaming for server in servers for feed in server.feeds)
        if not busy:
            break
        if not context.iteration(False):
            time.sleep(0.01)
    for server in servers:
        for _, endpoint in server.mounts:
            server.server.get_mount_points().remove_factory(endpoint.path)


def _install_signal_handlers(stop: threading.Event) -> Callable[[], None]:
    """SIGINT/SIGTERM set `stop` (only possible in the main thread); returns the undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handle(signum: int, _frame: Any) -> None:
        logger.info("simulator: got %s, stopping", signal.Signals(signum).name)
        stop.set()

    for sig in previous:
        signal.signal(sig, handle)

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
