"""One RTSP connection per camera for the live wall, shared by every viewer, open only while
someone watches.

The reader thread demuxes the camera's stream without decoding. H.264 that browsers decode is
published, access unit by access unit, to `packets` (a `Fanout`): WebRTC viewers get the camera's
own bitstream. H.265 (and H.264 profiles browsers refuse) is never published there: the wall plays
it from an H.264 sub-stream or through one shared transcode (`monitor.live.reencode`). Decoding, of
either codec, happens in the same thread only while something needs pictures (snapshot, MJPEG, the
blurred or transcoded stream), once per camera however many consume them. The connection closes
`linger_s` after the last viewer leaves, so a page reload does not cost a reconnect."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import av
import av.error
import cv2
import numpy as np

from core.errors import StreamError
from core.redact import redact_text, redact_url
from monitor.live.fanout import AccessUnit, Fanout
from monitor.live.h264 import NAL_SPS, browser_decodable, is_annexb, is_keyframe, nal_types, sps_profile

log = logging.getLogger(__name__)

JPEG_QUALITY = 80
CODECS = ("h264", "hevc")  # what the wall plays; FFmpeg's names


@dataclass(frozen=True)
class DecodedFrame:
    seq: int
    ts: float  # time.monotonic() of arrival
    frame: av.VideoFrame
    _convert: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def bgr(self) -> np.ndarray:
        """A new BGR array of the picture. Any thread: the frame's one colour converter (PyAV keeps
        one per frame, and runs it without the GIL) is used by one thread at a time; two at once crash
        the process."""
        with self._convert:
            return self.frame.to_ndarray(format="bgr24")

    def scaled(self, width: int, height: int) -> av.VideoFrame:
        """The picture as 8-bit YUV 4:2:0 at `width` x `height` (the frame itself when it already is),
        for an encoder. Any thread, as `bgr`."""
        with self._convert:
            return self.frame.reformat(width=width, height=height, format="yuv420p")


class CameraSource:
    """The shared reader of one camera."""

    def __init__(self, name: str, url: str, *, open_timeout_s: float = 5.0, read_timeout_s: float = 3.0,
                 linger_s: float = 5.0, reconnect_min_s: float = 0.5, reconnect_max_s: float = 10.0):
        self.name = name
        self._url = url
        self.safe_url = redact_url(url)
        self._timeouts = (open_timeout_s, read_timeout_s)
        self._linger_s = linger_s
        self._backoff = (reconnect_min_s, reconnect_max_s)
        self.packets = Fanout(f"{name}:camera", on_change=lambda _count: self._ensure_running())
        self._cond = threading.Condition()
        self._frame_watchers = 0
        self._probers = 0  # callers of wait_known(): they hold the connection open while they wait
        self._latest: DecodedFrame | None = None
        self._jpeg: tuple[int, bytes] | None = None
        self._encoding = threading.Lock()  # one JPEG encoding at a time: clients asking together share it
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self.state = "idle"  # idle | connecting | live | reconnecting | closed
        self.error: str | None = None
        self.codec: str | None = None        # "h264" | "hevc", once the stream has been seen
        self.profile_idc: int | None = None  # H.264 only
        self.fps: float | None = None  # as the stream declares it
        self.connects = 0  # connections that went live, reconnects included
        self.drops = 0     # live connections that ended in an error (a reconnect follows while anyone watches)
        self.failures = 0  # connection attempts or connections that ended in an error
        self.open_connections = 0
        self.most_open = 0  # the most connections open at once: one, however many watch
        self.units = 0

    # -- demand ------------------------------------------------------------------------------------

    @property
    def demand(self) -> int:
        return self.packets.count + self._frame_watchers + self._probers

    @property
    def browser_decodable(self) -> bool | None:
        """Whether browsers can decode the camera's own stream over WebRTC: H.264 of a profile they
        decode. None while unknown (the stream not seen yet, or H.264 whose profile is not seen yet)."""
        if self.codec is None:
            return None
        if self.codec != "h264":
            return False
        return None if self.profile_idc is None else browser_decodable(self.profile_idc)

    @property
    def forwardable(self) -> bool:
        """H.264 not known to be of a profile browsers refuse: `packets` carries it."""
        return self.codec == "h264" and self.browser_decodable is not False

    def wait_known(self, timeout: float) -> bool:
        """Connect if nobody watches yet and wait until the stream's codec is known (True) or a
        connection attempt fails or `timeout` passes (False; at once while a connection that never
        went live keeps failing). Blocks: call from a thread."""
        deadline = time.monotonic() + timeout
        with self._cond:
            if self.codec is not None:
                return True
            if self.failures and self._thread is not None:
                return False  # failing and retrying now: not worth another wait per viewer
            self._probers += 1
            failures = self.failures
        try:
            self._ensure_running()
            with self._cond:
                while self.codec is None and self.failures == failures and not self._closed.is_set():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                return self.codec is not None
        finally:
            with self._cond:
                self._probers -= 1

    @contextmanager
    def watch_frames(self) -> Iterator[CameraSource]:
        """Decode while inside; decoding is shared by every watcher of this camera."""
        with self._cond:
            self._frame_watchers += 1
        self._ensure_running()
        try:
            yield self
        finally:
            with self._cond:
                self._frame_watchers -= 1

    def _ensure_running(self) -> None:
        with self._cond:
            if self._closed.is_set() or self.demand == 0:
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"live:{self.name}", daemon=True)
                self._thread.start()

    # -- decoded pictures ----------------------------------------------------------------------------

    def wait_frame(self, after_seq: int = -1, timeout: float = 5.0) -> DecodedFrame | None:
        """The newest decoded frame newer than `after_seq`; None on timeout. Call inside watch_frames()."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._latest is None or self._latest.seq <= after_seq:
                left = deadline - time.monotonic()
                if left <= 0 or self._closed.is_set():
                    return None
                self._cond.wait(left)
            return self._latest

    def wait_jpeg(self, after_seq: int = -1, timeout: float = 5.0) -> tuple[int, bytes] | None:
        """The newest frame as JPEG, encoded once per frame however many clients ask."""
        frame = self.wait_frame(after_seq, timeout)
        if frame is None:
            return None
        with self._encoding:
            if self._jpeg is not None and self._jpeg[0] >= frame.seq:
                return self._jpeg
            ok, jpeg = cv2.imencode(".jpg", frame.bgr(), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            if not ok:
                return None
            self._jpeg = (frame.seq, jpeg.tobytes())
            return self._jpeg

    # -- the reader thread ---------------------------------------------------------------------------

    def close(self) -> None:
        self._closed.set()
        with self._cond:
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=self._timeouts[0] + self._timeouts[1] + 2.0)
        self.packets.publish(None)
        self.state = "closed"

    def _should_stop(self, idle_since: float | None) -> bool:
        """Under the lock: leave when closed, or idle past the linger time (then forget the thread)."""
        if self._closed.is_set():
            self._thread = None
            self.state = "closed"
            return True
        if self.demand == 0 and idle_since is not None and time.monotonic() - idle_since >= self._linger_s:
            # The state is set here, under the lock: a thread started for the next viewer right after
            # must not have its "connecting" overwritten by this one on its way out.
            self._thread = None
            self.state = "idle"
            return True
        return False

    def _run(self) -> None:
        delay = self._backoff[0]
        idle_since: float | None = None
        while True:
            with self._cond:
                if self._should_stop(idle_since):
                    break
            self.state = "connecting" if self.connects == 0 else "reconnecting"
            try:
                idle_since = self._stream_once()
                delay = self._backoff[0]
            except (av.error.FFmpegError, OSError, EOFError, StreamError) as exc:
                self.error = redact_text(f"{type(exc).__name__}: {exc}")
                with self._cond:
                    self.failures += 1
                    self._cond.notify_all()
                log.warning("%s: %s; reconnecting in %.1f s", self.name, self.error, delay)
                if self._closed.wait(delay):
                    continue
                delay = min(delay * 2, self._backoff[1])
                idle_since = None
        log.info("%s: live source stopped (%d units)", self.name, self.units)

    def _stream_once(self) -> float | None:
        """Read until nobody watches for `linger_s` (returns when idleness began) or closed."""
        options = {"rtsp_transport": "tcp", "timeout": str(int(self._timeouts[1] * 1e6)),
                   "probesize": "32768", "analyzeduration": "0"}
        container = av.open(self._url, options=options, timeout=self._timeouts)
        self._count_open(+1)
        live = False
        try:
            stream = container.streams.video[0]
            codec = stream.codec_context.name
            if codec not in CODECS:
                raise StreamError(f"camera sends {codec}, not H.264 or H.265")
            extradata = bytes(stream.codec_context.extradata or b"")
            headers = extradata if codec == "h264" and is_annexb(extradata) else b""
            rate = stream.guessed_rate or stream.average_rate
            self.fps = float(rate) if rate and 0 < float(rate) <= 120 else None
            with self._cond:
                self.profile_idc = sps_profile(headers) if headers else None
                self.codec = codec
                self._cond.notify_all()
            self.connects += 1
            live = True
            self.state, self.error = "live", None
            log.info("%s: live source connected to %s", self.name, self.safe_url)
            started = False  # a fresh connection starts at a keyframe
            decoding = False
            idle_since: float | None = None
            for packet in container.demux(stream):
                data = bytes(packet)
                if not data:
                    continue
                key = is_keyframe(codec, data)
                if key and codec == "h264":
                    if headers and NAL_SPS not in nal_types(data):
                        data = headers + data  # browsers need SPS/PPS in-band before each IDR
                    if self.profile_idc is None:
                        self.profile_idc = sps_profile(data)
                started = started or key
                if not started:
                    continue
                now = time.monotonic()
                self.units += 1
                if self.forwardable:
                    self.packets.publish(AccessUnit(data=data, key=key, ts=now, seq=self.units))
                if self._frame_watchers > 0:
                    decoding = decoding or key
                    if decoding:
                        self._decode(stream, packet, now)
                else:
                    decoding = False
                with self._cond:
                    if self.demand > 0:
                        idle_since = None
                    elif idle_since is None:
                        idle_since = now
                    if self._closed.is_set() or (idle_since is not None and now - idle_since >= self._linger_s):
                        return idle_since
            raise StreamError("the camera ended the stream")
        except BaseException:
            if live:
                self.drops += 1
            raise
        finally:
            container.close()
            self._count_open(-1)

    def _count_open(self, change: int) -> None:
        with self._cond:
            self.open_connections += change
            self.most_open = max(self.most_open, self.open_connections)

    def _decode(self, stream: av.video.stream.VideoStream, packet: av.Packet, now: float) -> None:
        try:
            frames = stream.codec_context.decode(packet)
        except av.error.FFmpegError as exc:
            log.debug("%s: decode error %s", self.name, exc)
            return
        for frame in frames:
            with self._cond:
                self._latest = DecodedFrame(seq=self.units, ts=now, frame=frame)
                self._cond.notify_all()
