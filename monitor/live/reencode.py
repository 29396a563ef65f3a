"""A camera's pictures encoded again as H.264 browsers play, once per camera, for every viewer who
gets them: decoded once (shared with snapshots, MJPEG and the other re-encoded stream of the camera),
scaled to at most `max_height` lines, thinned to at most `max_fps`, encoded once with x264 and
handed to every viewer through one `Fanout`. It runs only while someone watches.

`TranscodedStream` is the camera's own picture: the wall plays it to viewers who may see faces when
the camera sends H.265 (or H.264 of a profile browsers refuse) and has no H.264 sub-stream.
`monitor.live.blurred.BlurredStream` is the face-blurred picture."""

from __future__ import annotations

import fractions
import logging
import threading
import time

import av

from monitor.live.fanout import AccessUnit, Fanout
from monitor.live.h264 import NAL_IDR, nal_types
from monitor.live.source import CameraSource, DecodedFrame

log = logging.getLogger(__name__)

_TIME_BASE = fractions.Fraction(1, 90_000)
DEFAULT_FPS = 25.0  # when the camera does not say


def output_size(width: int, height: int, max_height: int) -> tuple[int, int]:
    """The encoded size: the camera's, scaled down to `max_height` lines if taller, both even."""
    if height > max_height:
        width, height = round(width * max_height / height), max_height
    return max(2, width - width % 2), max(2, height - height % 2)


class ReencodedStream:
    """Decode → picture → x264, once per camera, while someone watches. Subclasses say what the
    picture is (`_picture`) and may run something beside the encoder (`_starting`, `_stopping`)."""

    kind = "reencoded"

    def __init__(self, source: CameraSource, *, max_height: int = 720, max_fps: float = 25.0,
                 kbps: int = 2000, keyframe_every_s: float = 2.0, linger_s: float = 5.0):
        self.source = source
        self._max_height = max_height
        self._max_fps = max_fps
        self._kbps = kbps
        self._keyframe_every_s = keyframe_every_s
        self._linger_s = linger_s
        self.packets = Fanout(f"{source.name}:{self.kind}", on_change=self._on_viewers)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self._want_key = threading.Event()
        self.runs = 0       # encoding threads started: one at a time, however many watch
        self.running = 0
        self.encoders = 0   # x264 encoders opened (one per run, another only if the camera's size changes)
        self.encoded = 0    # access units out
        self.skipped = 0    # decoded frames left out to keep to max_fps
        self.size: tuple[int, int] | None = None

    def _on_viewers(self, count: int) -> None:
        if count == 0 or self._closed.is_set():
            return
        self._want_key.set()  # a new viewer starts at once instead of waiting for the next GOP
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"live-{self.kind}:{self.source.name}",
                                                daemon=True)
                self.runs += 1
                self._thread.start()

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout=10.0)
        self.packets.publish(None)

    # -- hooks ------------------------------------------------------------------------------------

    def _starting(self) -> None:
        """In the encoding thread, before the first frame."""

    def _stopping(self) -> None:
        """In the encoding thread, after the last frame."""

    def _picture(self, frame: DecodedFrame, width: int, height: int) -> av.VideoFrame:
        """What is encoded for `frame`: YUV 4:2:0 at width x height."""
        return frame.scaled(width, height)

    # -- the encoding thread ------------------------------------------------------------------------

    def _idle(self, idle_since: float | None) -> tuple[bool, float | None]:
        """(leave now, when idleness began); forgets the thread when leaving."""
        with self._lock:
            if self.packets.count > 0:
                return False, None
            now = time.monotonic()
            if idle_since is not None and now - idle_since >= self._linger_s:
                self._thread = None
                return True, idle_since
            return False, idle_since if idle_since is not None else now

    def _run(self) -> None:
        with self._lock:
            self.running += 1
        self._starting()
        encoder: av.VideoCodecContext | None = None
        t0 = 0.0
        last_key = 0.0
        due = 0.0  # the next frame is encoded if it arrives no earlier than half an interval before this
        idle_since: float | None = None
        seq = -1
        camera_size: tuple[int, int] | None = None
        try:
            with self.source.watch_frames():
                while not self._closed.is_set():
                    leave, idle_since = self._idle(idle_since)
                    if leave:
                        return
                    frame = self.source.wait_frame(seq, timeout=1.0)
                    if frame is None:
                        continue
                    seq = frame.seq
                    if encoder is None or camera_size != (frame.frame.width, frame.frame.height):
                        camera_size = (frame.frame.width, frame.frame.height)
                        fps = min(self.source.fps or DEFAULT_FPS, self._max_fps)
                        encoder = self._encoder(*output_size(*camera_size, self._max_height), fps)
                        t0, due = frame.ts, frame.ts
                        self._want_key.set()
                    # Thinned by arrival time only when the camera is faster than max_fps: arrivals jitter.
                    interval = 1.0 / self._max_fps
                    if (self.source.fps or DEFAULT_FPS) > self._max_fps and frame.ts + interval / 2 < due:
                        self.skipped += 1
                        continue
                    due = max(due, frame.ts) + interval
                    force_key = self._want_key.is_set() or frame.ts - last_key >= self._keyframe_every_s
                    self._want_key.clear()
                    for unit in self._encode(encoder, frame, force_key, t0):
                        last_key = frame.ts if unit.key else last_key
                        self.packets.publish(unit)
        finally:
            self._stopping()
            with self._lock:
                self._thread = None
                self.running -= 1
            log.info("%s: %s stream stopped (%d frames)", self.source.name, self.kind, self.encoded)

    def _encode(self, encoder: av.VideoCodecContext, frame: DecodedFrame, force_key: bool,
                t0: float) -> list[AccessUnit]:
        picture = self._picture(frame, encoder.width, encoder.height)
        picture.pts = int((frame.ts - t0) * 90_000)
        picture.time_base = _TIME_BASE
        # Set either way: a decoder's keyframes arrive marked I, and x264 would obey the mark.
        picture.pict_type = av.video.frame.PictureType.I if force_key else av.video.frame.PictureType.NONE
        units = []
        for packet in encoder.encode(picture):
            data = bytes(packet)
            self.encoded += 1
            units.append(AccessUnit(data=data, key=NAL_IDR in nal_types(data), ts=frame.ts, seq=self.encoded))
        return units

    def _encoder(self, width: int, height: int, fps: float) -> av.VideoCodecContext:
        encoder = av.CodecContext.create("libx264", "w")
        assert isinstance(encoder, av.VideoCodecContext)
        encoder.width, encoder.height = width, height
        encoder.pix_fmt = "yuv420p"
        encoder.time_base = _TIME_BASE
        # x264 sizes frames for its rate control by this rate; left unset it takes 90 000 fps from the
        # time base, starves every frame, and the picture collapses to flat grey.
        encoder.framerate = fractions.Fraction(fps).limit_denominator(1000)
        # No global header: x264 then repeats SPS/PPS before every IDR, which viewers joining need.
        # Constant quality, capped by VBV; one thread, no lookahead: a frame out for each frame in.
        encoder.options = {"preset": "ultrafast", "tune": "zerolatency", "profile": "baseline", "crf": "26",
                           "forced-idr": "1",
                           "x264-params": f"keyint=infinite:scenecut=0:threads=1:vbv-maxrate={self._kbps}"
                                          f":vbv-bufsize={self._kbps // 2}"}
        self.encoders += 1
        self.size = (width, height)
        return encoder


class TranscodedStream(ReencodedStream):
    """The camera's own picture as H.264, for viewers who may see faces, when the camera's stream is
    not H.264 browsers decode and it has no H.264 sub-stream."""

    kind = "transcoded"
