"""What every trial of `bench pipeline` and `bench soak` shares: the analysis rate, the line a trial prints
when its measured window starts, the window itself, CPU seconds of a process, latency percentiles, and the
bench's site (N halls of one camera each on the clip server)."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ANALYSIS_FPS = 1.0
MEASURE_LINE = "measuring"
REPO = Path(__file__).resolve().parents[2]


def cpu_seconds(pid: int) -> float:
    return cpu_reading(pid)[1]


def cpu_reading(pid: int) -> tuple[int, float]:
    """(when the process started, in clock ticks since boot: with the pid, who it is; its CPU seconds)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[19]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None}
    array = np.asarray(values)
    return {"p50": round(float(np.percentile(array, 50)), 3), "p95": round(float(np.percentile(array, 95)), 3),
            "max": round(float(array.max()), 3)}


def measure_window(warmup_s: float, duration_s: float, reset: Callable[[], object],
             collect: Callable[[], dict[str, Any]], settled: Callable[[], bool] = lambda: True) -> dict[str, Any]:
    """After `warmup_s`, and once `settled` (or 4 x warmup_s at most), reset the counts, measure for
    `duration_s`, and collect."""
    time.sleep(warmup_s)  # a benchmark window, not a wait for an event
    deadline = time.monotonic() + 3 * warmup_s
    while not settled() and time.monotonic() < deadline:
        time.sleep(0.5)
    reset()
    print(MEASURE_LINE, flush=True)
    cpu0, wall0 = time.process_time(), time.monotonic()
    time.sleep(duration_s)
    wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
    result = collect()  # counts what was analysed in the window (end to end, after the rows are in)
    result.update(duration_s=round(wall, 3), cpu_cores=round(cpu / wall, 3))
    return result


def bench_site(cameras: int, port: int, *, substream: bool = False, threads: int | None = None,
               raw_only: bool = False) -> Any:
    """A site of `cameras` halls with one camera each at rtsp://127.0.0.1:PORT/cam<i> (and its
    sub-stream, `detect_url`, at /cam<i>/sub), each like the example site's first camera (the one the
    simple clip shows; the realistic clip's hall has its own layout, which matters little here: the
    bench counts analyses and their cost, not what they found). `raw_only`: the site file's dict."""
    from core.config import SiteConfig, load_site
    from tools.simulator.clip import EXAMPLE_SITE, SUBSTREAM_PATH

    example = load_site(EXAMPLE_SITE)
    hall, camera = example.cameras()[0]
    raw = example.model_dump(mode="json")
    hall_raw = next(h for h in raw["halls"] if h["id"] == hall.id)
    template = next(c for c in hall_raw["cameras"] if c["id"] == camera.id)
    camera_raw = {**template, "detect_url": None, "analysis_fps": ANALYSIS_FPS}
    raw["halls"] = [{**hall_raw, "id": f"bench-{i}", "cameras": [
        {**camera_raw, "id": f"cam{i}", "url": f"rtsp://127.0.0.1:{port}/cam{i}",
         "detect_url": f"rtsp://127.0.0.1:{port}/cam{i}/{SUBSTREAM_PATH}" if substream else None}]}
        for i in range(cameras)]
    if threads is not None:
        raw["detector"] = {**raw["detector"], "threads": threads}
    return raw if raw_only else SiteConfig.model_validate(raw)
