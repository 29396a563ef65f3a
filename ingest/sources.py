"""Frames from whatever `hallwatch analyze` is given: an image, a video file or an RTSP URL,
taken at the camera's analysis rate."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import av
import cv2

from core.config import IngestConfig
from core.errors import StreamError
from core.redact import redact_text, redact_url
from ingest.reader import CameraReader, Frame

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def iter_frames(source: str, *, analysis_fps: float, ingest: IngestConfig,
                stop: threading.Event | None = None) -> Iterator[Frame]:
    stop = stop or threading.Event()
    if source.startswith(("rtsp://", "rtsps://")):
        yield from _live_frames(source, analysis_fps, ingest, stop)
    elif Path(source).suffix.lower() in IMAGE_SUFFIXES:
        image = cv2.imread(source, cv2.IMREAD_COLOR)
        if image is None:
            raise StreamError(f"{source}: not a readable image")
        yield Frame(image=image, ts=time.time(), seq=0)
    else:
        yield from _file_frames(source, analysis_fps, stop)


def _file_frames(path: str, analysis_fps: float, stop: threading.Event) -> Iterator[Frame]:
    """Frames of a video file at the analysis rate; `ts` is the frame's time in the file, seconds."""
    try:
        container = av.open(path)
    except (av.error.FFmpegError, OSError) as exc:
        raise StreamError(f"{path}: cannot open video: {redact_text(str(exc))}") from None
    with container:
        stream = container.streams.video[0]
        interval = 1.0 / analysis_fps
        next_ts: float | None = None
        for seq, frame in enumerate(container.decode(stream)):
            if stop.is_set():
                return
            if frame.pts is None or frame.time_base is None:
                continue
            ts = float(frame.pts * frame.time_base)
            if next_ts is None or ts >= next_ts - 1e-6:
                next_ts = (ts if next_ts is None else next_ts) + interval
                yield Frame(image=frame.to_ndarray(format="bgr24"), ts=ts, seq=seq)


def _live_frames(url: str, analysis_fps: float, ingest: IngestConfig, stop: threading.Event) -> Iterator[Frame]:
    """The newest frame of a live stream once per analysis interval, as the pipeline takes them."""
    reader = CameraReader("analyze", url, ingest, analysis_fps=analysis_fps).start()
    try:
        last_seq = -1
        deadline = time.monotonic() + ingest.open_timeout_s + ingest.read_timeout_s
        while not stop.is_set():
            frame = reader.latest()
            if frame is not None and frame.seq != last_seq:
                last_seq = frame.seq
                yield frame
                stop.wait(1.0 / analysis_fps)
                continue
            health = reader.health()
            if frame is None and time.monotonic() > deadline:
                raise StreamError(f"{redact_url(url)}: {health.state.value}: {health.error or 'no frames'}")
            stop.wait(0.05)
    finally:
        reader.stop()
