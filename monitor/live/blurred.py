"""The face-blurred stream of one camera: decoded once (shared with snapshots and MJPEG), heads
pixelated, encoded once with x264 (`monitor.live.reencode`), and forwarded to every viewer who may
not see faces. It runs only while such a viewer watches.

People are found by the person detector at a low rate (`detect_every_s`) in a thread of its own,
so encoding never waits for inference; boxes are held for `hold_s`, and when there are none that
recent (start-up, a detector that fails) the whole frame is pixelated."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import av
import cv2
import numpy as np

from monitor.live.blur import blur_faces
from monitor.live.reencode import ReencodedStream
from monitor.live.source import JPEG_QUALITY, CameraSource, DecodedFrame

log = logging.getLogger(__name__)

DetectorFactory = Callable[[], object]  # returns something with .detect(bgr) -> Detections


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


class BlurredStream(ReencodedStream):
    """Decode → blur heads → encode, once per camera, while someone watches it."""

    kind = "blurred"

    def __init__(self, source: CameraSource, detector: DetectorFactory | None, *, detect_every_s: float = 1.0,
                 hold_s: float = 3.0, **reencode: Any):
        super().__init__(source, **reencode)
        self._detector = detector
        self._detect_every_s = detect_every_s
        self._hold_s = hold_s
        self._stop_heads = threading.Event()
        self.whole_frame_blurs = 0
        self.heads: _Heads | None = None

    def _starting(self) -> None:
        self._stop_heads = threading.Event()
        self.heads = _Heads(self.source.name, self._detector, self._detect_every_s, self._stop_heads)
        self.heads.start()

    def _stopping(self) -> None:
        self._stop_heads.set()
        if self.heads is not None:
            self.heads.join(timeout=5.0)

    def _picture(self, frame: DecodedFrame, width: int, height: int) -> av.VideoFrame:
        assert self.heads is not None
        image = frame.bgr()
        self.heads.offer(image.copy())
        boxes = self.heads.current(self._hold_s)
        if boxes is None:
            self.whole_frame_blurs += 1
        return av.VideoFrame.from_ndarray(blur_faces(image, boxes), format="bgr24").reformat(
            format="yuv420p", width=width, height=height)


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
