"""One RTSP camera read over TCP in its own thread, with bounded timeouts, reconnects with
exponential backoff and jitter, and latest-frame semantics: the consumer always gets the newest
decoded frame, older ones are simply replaced, and pixels are converted only when asked for."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import av
import av.error
import numpy as np

from hallwatch.config import IngestConfig
from hallwatch.errors import StreamError
from hallwatch.redact import redact_text, redact_url
from ingest.health import CameraHealth, CameraState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # HxWx3 uint8 BGR
    ts: float          # capture time, unix seconds (when the frame was decoded here)
    seq: int           # increases by one per decoded frame

    @property
    def size(self) -> tuple[int, int]:
        return self.image.shape[1], self.image.shape[0]


def open_options(config: IngestConfig) -> dict[str, str]:
    """FFmpeg options for a quick, bounded RTSP open (see FACTS: probing costs seconds otherwise)."""
    return {
        "rtsp_transport": "tcp",
        "timeout": str(int(config.read_timeout_s * 1_000_000)),  # socket I/O timeout, microseconds
        "probesize": "32768",
        "analyzeduration": "0",
        "fflags": "nobuffer",
    }


def classify_error(exc: BaseException) -> CameraState:
    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError | PermissionError):
        return CameraState.unauthorized
    if isinstance(exc, av.error.InvalidDataError | av.error.PatchWelcomeError | av.error.DecoderNotFoundError):
        return CameraState.bad_stream
    text = str(exc).lower()
    if "401" in text or "unauthorized" in text:
        return CameraState.unauthorized
    return CameraState.offline


class CameraReader:
    def __init__(self, name: str, url: str, config: IngestConfig, *, clock: Callable[[], float] = time.time):
        self.name = name
        self._url = url
        self._config = config
        self._clock = clock
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._latest: tuple[av.VideoFrame, float, int] | None = None
        self._converted: Frame | None = None
        self._seq = 0
        self._state = CameraState.connecting
        self._error: str | None = None
        self._reconnects = 0
        self._frame_times: deque[float] = deque(maxlen=64)
        self._container: av.container.InputContainer | None = None
        self._thread = threading.Thread(target=self._run, name=f"ingest:{name}", daemon=True)

    @property
    def safe_url(self) -> str:
        return redact_url(self._url)

    def start(self) -> CameraReader:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def latest(self) -> Frame | None:
        """The newest frame, or None before the first one. Conversion to BGR happens here, once per
        frame, so frames that analysis never looks at are never converted."""
        with self._lock:
            latest, converted = self._latest, self._converted
        if latest is None:
            return None
        frame, ts, seq = latest
        if converted is not None and converted.seq == seq:
            return converted
        converted = Frame(image=frame.to_ndarray(format="bgr24"), ts=ts, seq=seq)
        with self._lock:
            if self._latest is not None and self._latest[2] == seq:
                self._converted = converted
        return converted

    def health(self) -> CameraHealth:
        now = self._clock()
        with self._lock:
            recent = [t for t in self._frame_times if now - t <= 5.0]
            last = self._frame_times[-1] if self._frame_times else None
            state = self._state
            if state is CameraState.live and (last is None or now - last > self._config.stall_after_s):
                state = CameraState.stalled
            fps = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 and recent[-1] > recent[0] else 0.0
            return CameraHealth(state=state, fps=round(fps, 2), last_frame_at=last,
                                reconnects=self._reconnects, error=self._error)

    def _run(self) -> None:
        backoff = self._config.reconnect_min_s
        while not self._stop.is_set():
            got_frames = False
            try:
                got_frames = self._read_until_failure()
            except Exception as exc:  # every failure of a camera is handled the same way: reconnect
                state = classify_error(exc)
                message = redact_text(str(exc)) or type(exc).__name__
                with self._lock:
                    changed = state is not self._state or message != self._error
                    self._state, self._error = state, message
                if changed:
                    log.warning("camera %s (%s): %s: %s", self.name, self.safe_url, state.value, message)
            finally:
                self._close()
            if self._stop.is_set():
                break
            if got_frames:
                backoff = self._config.reconnect_min_s
            with self._lock:
                self._reconnects += 1
                if self._state is CameraState.live:
                    self._state = CameraState.offline
            delay = backoff * random.uniform(0.8, 1.2)
            backoff = min(backoff * 2, self._config.reconnect_max_s)
            self._stop.wait(delay)

    def _read_until_failure(self) -> bool:
        """Open the stream and publish frames until it fails; True if any frame was decoded."""
        config = self._config
        container = av.open(self._url, options=open_options(config),
                            timeout=(config.open_timeout_s, config.read_timeout_s))
        self._container = container
        stream = container.streams.video[0]
        got_frames = False
        for packet in container.demux(stream):
            if self._stop.is_set():
                break
            for frame in packet.decode():
                got_frames = True
                self._publish(frame)
        if not self._stop.is_set():
            raise StreamError("the stream ended")
        return got_frames

    def _publish(self, frame: av.VideoFrame) -> None:
        now = self._clock()
        with self._lock:
            self._seq += 1
            self._latest = (frame, now, self._seq)
            self._frame_times.append(now)
            if self._state is not CameraState.live:
                log.info("camera %s (%s): live", self.name, self.safe_url)
            self._state = CameraState.live
            self._error = None

    def _close(self) -> None:
        container, self._container = self._container, None
        if container is not None:
            try:
                container.close()
            except Exception:  # closing a broken connection may fail too; nothing to save
                pass
