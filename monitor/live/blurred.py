"""The face-blurred stream of one camera: decoded once (shared with snapshots and MJPEG), heads
pixelated, encoded once with x264, and forwarded to every viewer who may not see faces. It runs
only while such a viewer watches.

People are found by the person detector at a low rate (`detect_every_s`) in a thread of its own,
so encoding never waits for inference; boxes are held for `hold_s`, and when there are none that
recent (start-up, a detector that fails) the whole frame is pixelated."""

from __future__ import annotations

import fractions
import logging
import threading
import time
from collections.abc import Callable

import av
import cv2
import numpy as np

from monitor.live.blur import blur_faces
from monitor.live.fanout import AccessUnit, Fanout
from monitor.live.h264 import NAL_IDR, nal_types
from monitor.live.source import JPEG_QUALITY, CameraSource, DecodedFrame

log = logging.getLogger(__name__)

DetectorFactory = Callable[[], object]  # returns something with .detect(bgr) -> Detections
_TIME_BASE = fractions.Fraction(1, 90_000)
DEFAULT_FPS = 25.0  # when the camera does not say


class _Heads:
    """Runs the detector on the newest frame at most every `every_s`; keeps the newest boxes."""

    def __init__(self, name: str, detector: Callable[[], object] | None, every_s: float, stop: threading.Event):
        self._get_detector = detector
        self._every_s = every_s
        self._stop = stop
        self._cond = threading.Condition()
        self._image: np.ndarray | None = None
        self.boxes: np.ndarray | None = None
        self.boxes_at = 0.0
        self.runs = 0
        self.failed: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"live-detect:{name}", daemon=True)

    def start(self) -> None:
        if self._get_detector is not None:
            self._thread.start()

    def join(self, timeout: float) -> None:
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def offer(self, image: np.ndarray) -> None:
        with self._cond:
            self._image = image
            self._cond.notify()

    def current(self, hold_s: float) -> np.ndarray | None:
        if self.boxes is None or time.monotonic() - self.boxes_at > hold_s:
            return None
        return self.boxes

    def _run(self) -> None:
        assert self._get_detector is not None
        try:
            detector = self._get_detector()
        except Exception as exc:  # any failure means: blur everything
            self.failed = f"{type(exc).__name__}: {exc}"
            log.error("face blur: no detector (%s); whole frames are pixelated", self.failed)
            return
        while not self._stop.is_set():
            with self._cond:
                while self._image is None and not self._stop.is_set():
                    self._cond.wait(0.5)
                image, self._image = self._image, None
            if image is None:
                continue
            started = time.monotonic()
            try:
                detections = detector.detect(image)  # type: ignore[attr-defined]
            except Exception as exc:
                self.failed = f"{type(exc).__name__}: {exc}"
                log.warning("face blur: detection failed: %s", self.failed)
            else:
                self.boxes, self.boxes_at, self.runs = detections.xyxy.copy(), time.monotonic(), self.runs + 1
            self._stop.wait(max(0.0, self._every_s - (time.monotonic() - started)))


class BlurredStream:
    """Decode → blur heads → encode, once per camera, while someone watches it."""

    def __init__(self, source: CameraSource, detector: DetectorFactory | None, *, detect_every_s: float = 1.0,
                 hold_s: float = 3.0, keyframe_every_s: float = 2.0, linger_s: float = 5.0):
        self.source = source
        self._detector = detector
        self._detect_every_s = detect_every_s
        self._hold_s = hold_s
        self._keyframe_every_s = keyframe_every_s
        self._linger_s = linger_s
        self.packets = Fanout(f"{source.name}:blurred", on_change=self._on_viewers)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self._want_key = threading.Event()
        self.encoded = 0
        self.whole_frame_blurs = 0
        self.heads: _Heads | None = None

    def _on_viewers(self, count: int) -> None:
        if count == 0 or self._closed.is_set():
            return
        self._want_key.set()  # a new viewer starts at once instead of waiting for the next GOP
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"live-blur:{self.source.name}", daemon=True)
                self._thread.start()

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout=10.0)
        self.packets.publish(None)

    def _run(self) -> None:
        stop = threading.Event()
        heads = self.heads = _Heads(self.source.name, self._detector, self._detect_every_s, stop)
        heads.start()
        encoder: av.VideoCodecContext | None = None
        t0: float | None = None
        last_key = 0.0
        idle_since: float | None = None
        seq = -1
        try:
            with self.source.watch_frames():
                while not self._closed.is_set():
                    with self._lock:
                        if self.packets.count > 0:
                            idle_since = None
                        elif idle_since is None:
                            idle_since = time.monotonic()
                        elif time.monotonic() - idle_since >= self._linger_s:
                            self._thread = None
                            return
                    frame = self.source.wait_frame(seq, timeout=1.0)
                    if frame is None:
                        continue
                    seq = frame.seq
                    if encoder is None or (encoder.width, encoder.height) != (frame.frame.width, frame.frame.height):
                        encoder = _encoder(frame.frame.width, frame.frame.height, self.source.fps or DEFAULT_FPS)
                        t0 = frame.ts
                        self._want_key.set()
                    assert t0 is not None
                    force_key = self._want_key.is_set() or frame.ts - last_key >= self._keyframe_every_s
                    self._want_key.clear()
                    for unit in self._encode(encoder, frame, heads, force_key, t0):
                        last_key = frame.ts if unit.key else last_key
                        self.packets.publish(unit)
        finally:
            stop.set()
            heads.join(timeout=5.0)
            with self._lock:
                self._thread = None
            log.info("%s: blurred stream stopped (%d frames)", self.source.name, self.encoded)

    def _encode(self, encoder: av.VideoCodecContext, frame: DecodedFrame, heads: _Heads, force_key: bool,
                t0: float) -> list[AccessUnit]:
        image = frame.bgr()
        heads.offer(image.copy())
        boxes = heads.current(self._hold_s)
        if boxes is None:
            self.whole_frame_blurs += 1
        blurred = av.VideoFrame.from_ndarray(blur_faces(image, boxes), format="bgr24").reformat(
            format="yuv420p", width=encoder.width, height=encoder.height)
        blurred.pts = int((frame.ts - t0) * 90_000)
        blurred.time_base = _TIME_BASE
        if force_key:
            blurred.pict_type = av.video.frame.PictureType.I
        units = []
        for packet in encoder.encode(blurred):
            data = bytes(packet)
            self.encoded += 1
            units.append(AccessUnit(data=data, key=NAL_IDR in nal_types(data), ts=frame.ts, seq=self.encoded))
        return units


def _encoder(width: int, height: int, fps: float) -> av.VideoCodecContext:
    encoder = av.CodecContext.create("libx264", "w")
    assert isinstance(encoder, av.VideoCodecContext)
    encoder.width, encoder.height = width - width % 2, height - height % 2
    encoder.pix_fmt = "yuv420p"
    encoder.time_base = _TIME_BASE
    # x264 sizes frames for its rate control by this rate; left unset it takes 90 000 fps from the
    # time base, starves every frame, and the picture collapses to flat grey.
    encoder.framerate = fractions.Fraction(fps).limit_denominator(1000)
    # No global header: x264 then repeats SPS/PPS before every IDR, which viewers joining need.
    # Constant quality, capped by VBV.
    encoder.options = {"preset": "ultrafast", "tune": "zerolatency", "profile": "baseline", "crf": "26",
                       "forced-idr": "1",
                       "x264-params": "keyint=infinite:scenecut=0:threads=1:vbv-maxrate=2000:vbv-bufsize=1000"}
    return encoder


class BlurredPictures:
    """Face-blurred JPEGs of one camera (snapshot, MJPEG): the detector runs at most every
    `every_s` and each frame is blurred and encoded once, however many clients ask."""

    def __init__(self, detector: DetectorFactory | None, *, every_s: float = 1.0, hold_s: float = 3.0):
        self._detector = detector
        self._every_s = every_s
        self._hold_s = hold_s
        self._lock = threading.Lock()
        self._boxes: np.ndarray | None = None
        self._boxes_at = -1e9
        self._tried_at = -1e9
        self._cached: tuple[int, bytes] | None = None

    def jpeg(self, frame: DecodedFrame) -> tuple[int, bytes] | None:
        with self._lock:
            if self._cached is not None and self._cached[0] == frame.seq:
                return self._cached
            image = frame.bgr()
            now = time.monotonic()
            if self._detector is not None and now - self._tried_at >= self._every_s:
                self._tried_at = now
                try:
                    self._boxes = self._detector().detect(image).xyxy.copy()  # type: ignore[attr-defined]
                    self._boxes_at = now
                except Exception as exc:
                    log.warning("face blur: detection failed: %s: %s", type(exc).__name__, exc)
            boxes = self._boxes if now - self._boxes_at <= self._hold_s else None
            ok, jpeg = cv2.imencode(".jpg", blur_faces(image, boxes), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            if not ok:
                return None
            self._cached = (frame.seq, jpeg.tobytes())
            return self._cached
