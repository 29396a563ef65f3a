"""`hallwatch bench pipeline`: how many cameras one box analyses at their analysis rate with p95
frame-to-row latency <= 2 s, against a naive baseline, in the same run.

- Cameras: `tools.simulator.clip` serves N copies of one pre-encoded clip, each from its own point
  of the clip, in a child process whose CPU is measured and reported. `--profile realistic` (the
  default): a busy hall with sensor noise, 1280x720 at 25 fps, a keyframe every 2 s, H.264 or H.265
  (`--codec`), clients joining mid-GOP as with a camera, and with `--substream` the pipeline reads each
  camera's 640x360 H.264 sub-stream (its `detect_url`). `--profile simple`: the simulator's scripted
  hall at 10 fps, a keyframe every second, frames identical between scripted changes.
- A trial runs N cameras for a warm-up and then a measured window, in a fresh child process, so
  that each starts clean: `pipeline` is `pipeline.loop.Pipeline` with the site's default
  detector settings (rows handed to a sink that counts them: the writer's part is `bench db`);
  `e2e` (`--end-to-end`) is one `hallwatch worker` per core on a fresh embedded PostgreSQL, the
  cameras dealt out by their leases, analysed instants and latencies counted from the stored
  `desk_sample` rows; `baseline` is one thread per camera, each with its own `cv2.VideoCapture`
  reading every frame and its own Ultralytics `YOLO(best.pt)` (the same weights as the packaged ONNX
  model) predicting at 640 once per analysis interval, reading the stream the pipeline reads.
- Latency of a frame: from its capture (arrival at the reader, plus how far behind live it arrived,
  from the stream's timestamps) to its rows; end to end, from the row's `ts` (the frame's arrival at
  the reader) to its `inserted_at`. A camera count is sustained when every camera gave at least 90 %
  of its analyses (and all together 95 %) and the p95 latency is at most 2 s.
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

from core.errors import HallwatchError
from tools.bench.trial import (
    ANALYSIS_FPS,
    MEASURE_LINE,
    REPO,
    bench_site,
    cpu_seconds,
    free_port,
    measure_window,
    percentiles,
)

log = logging.getLogger(__name__)

LATENCY_LIMIT_S = 2.0
CAMERA_SHARE = 0.9  # of its analyses every camera must give
TOTAL_SHARE = 0.95  # of all analyses
PLOT = REPO / "docs" / "bench-pipeline.png"


@dataclass(frozen=True)
class Cameras:
    """What the camera server serves and which of its streams the pipeline reads."""

    profile: str = "realistic"  # realistic | simple
    codec: str = "h264"
    gop_s: float = 2.0
    bframes: int = 0
    substream: bool = False

    def __post_init__(self) -> None:
        if self.profile not in ("realistic", "simple"):
            raise HallwatchError(f"profile is realistic or simple, not {self.profile}")
        if self.profile == "simple" and (self.substream or self.codec != "h264" or self.bframes):
            raise HallwatchError("the simple profile is H.264 without B-frames or sub-stream")

    def server_args(self) -> list[str]:
        if self.profile == "simple":
            return []
        return ["--profile", "realistic", "--codec", self.codec, "--gop-s", f"{self.gop_s:g}",
                "--bframes", str(self.bframes)] + (["--substream"] if self.substream else [])

    def trial_args(self) -> list[str]:
        return ["--substream"] if self.substream else []

    def describe(self) -> str:
        if self.profile == "simple":
            return "simple: simulator scene, 1280x720 H.264 10 fps, keyframe every 1 s"
        from tools.simulator.clip import Realistic

        what = Realistic(codec=self.codec, gop_s=self.gop_s, bframes=self.bframes, substream=self.substream)
        read = "; the pipeline reads the sub-stream" if self.substream else ""
        return f"realistic: {what.describe()}, joined mid-GOP{read}"


# -- the parent: cameras, trials, search, report -------------------------------------------------


@dataclass
class Trial:
    kind: str  # pipeline | e2e | baseline
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
                "cpu_cores_per_camera": round(r["cpu_cores"] / max(1, self.cameras), 4),
                **{k: r[k] for k in ("detected_share", "p95_detect_latency_s", "processes", "db_cpu_cores",
                                     "rows") if k in r}}


class CameraServer:
    """The clip server child process, and the CPU it uses."""

    def __init__(self, cameras: int, port: int, clip: Cameras | None = None) -> None:
        self.port = port
        self.clip = clip or Cameras(profile="simple")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tools.simulator.clip", "--cameras", str(cameras), "--port", str(port),
             *self.clip.server_args()],
            stdout=subprocess.PIPE, text=True, cwd=REPO)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            self.close()
            raise HallwatchError(f"the camera server did not start (it said {line!r})")

    def url(self, index: int) -> str:
        return f"rtsp://127.0.0.1:{self.port}/cam{index}"

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.proc.pid)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_trial(server: CameraServer, kind: str, cameras: int, *, warmup_s: float, duration_s: float,
              processes: int = 1) -> Trial:
    cmd = [sys.executable, "-m", "tools.bench.pipeline", "--trial", kind, "--cameras", str(cameras),
           "--port", str(server.port), "--warmup", str(warmup_s), "--duration", str(duration_s),
           "--processes", str(processes), *server.clip.trial_args()]
    env = {**os.environ, "YOLO_OFFLINE": "1", "YOLO_AUTOINSTALL": "0"}
    with tempfile.TemporaryDirectory(prefix="hallwatch-bench-") as config_dir:
        env["YOLO_CONFIG_DIR"] = config_dir
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=REPO, env=env)
        assert proc.stdout is not None
        server_start = server_end = None
        lines = []
        deadline = time.monotonic() + 4 * warmup_s + duration_s + 300
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
                   baseline: bool = True, plot: Path | None = PLOT, processes: int | None = None,
                   clip: Cameras | None = None, end_to_end: bool = False, start: int = 8) -> dict[str, Any]:
    """Run the search for the pipeline (or, `end_to_end`, for `hallwatch worker`s on a database) and
    the baseline on one camera server; returns the report."""
    processes = processes or os.cpu_count() or 1
    clip = clip or Cameras()
    if max_cameras < 1 or warmup_s <= 0 or duration_s < 5 or processes < 1 or start < 1:
        raise HallwatchError("need --cameras >= 1, --processes >= 1, a warm-up and at least 5 s of measurement")
    load_before = os.getloadavg()[0]
    started = datetime.now(UTC)
    server = CameraServer(max_cameras, free_port(), clip)
    kind = "e2e" if end_to_end else "pipeline"
    try:
        def trial(kind: str) -> Callable[[int], Trial]:
            return lambda n: run_trial(server, kind, n, warmup_s=warmup_s, duration_s=duration_s,
                                       processes=min(processes, n) if kind != "baseline" else 1)

        sustained, trials = search(trial(kind), start=start, limit=max_cameras, step=0)
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
        "mode": "end_to_end" if end_to_end else "pipeline",
        "cameras": clip.describe(),
        "cameras_sustained": sustained,
        "baseline_cameras_sustained": base_sustained,
        "ratio_vs_baseline": round(sustained / base_sustained, 2) if base_sustained else None,
        "baseline": "ultralytics" if baseline else None,
        "p95_latency_s": best.result["p95_latency_s"] if best else None,
        "detected_share": best.result.get("detected_share") if best else None,
        "cpu_cores_per_camera": best.row()["cpu_cores_per_camera"] if best else None,
        "baseline_cpu_cores_per_camera": next((t.row()["cpu_cores_per_camera"] for t in reversed(base_trials)
                                               if t.sustained and t.cameras == base_sustained), None),
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
                     "profile": clip.profile, "codec": clip.codec, "gop_s": clip.gop_s, "bframes": clip.bframes,
                     "substream": clip.substream, "end_to_end": end_to_end},
    }
    if plot is not None and importlib.util.find_spec("matplotlib") is not None:
        _plot(trials, base_trials, plot)
        report["plot"] = str(plot)
    return report


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
    for name, group, style in (("hallwatch", trials, "o-"), ("naive baseline", base_trials, "s--")):
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
    lines = [report["cameras"], "",
             f"{'kind':<9} {'cameras':>7} {'sustained':>9} {'rate/cam':>8} {'min rate':>8} {'p50 s':>6} "
             f"{'p95 s':>6} {'cores':>5} {'core/cam':>8} {'detected':>8} {'server':>6}"]
    for row in report["trials"]:
        detected = row.get("detected_share")
        lines.append(f"{row['kind']:<9} {row['cameras']:>7} {'yes' if row['sustained'] else 'no':>9} "
                     f"{row['analyses_per_camera_s']:>8.2f} {row['min_camera_analyses_s']:>8.2f} "
                     f"{row['p50_latency_s'] or 0:>6.2f} {row['p95_latency_s'] or 0:>6.2f} {row['cpu_cores']:>5.2f} "
                     f"{row['cpu_cores_per_camera']:>8.4f} "
                     f"{'-' if detected is None else f'{100 * detected:.0f} %':>8} {row['server_cpu_cores']:>6.3f}")
    server = report["camera_server"]
    lines += [
        "",
        f"{report['mode']}: cameras sustained: {report['cameras_sustained']} (p95 {report['p95_latency_s']} s); "
        f"baseline: {report['baseline_cameras_sustained']}; ratio {report['ratio_vs_baseline']}; "
        f"{report['cpu_count']} cores",
        f"camera server: {server['cpu_cores']} cores for {server['cameras']} cameras",
        f"load average {report['machine']['load_average_before']} -> {report['machine']['load_average_after']}",
    ]
    return "\n".join(lines)


# -- a trial, in its own process -----------------------------------------------------------------


def pipeline_trial(cameras: int, port: int, warmup_s: float, duration_s: float,
                   processes: int = 1, substream: bool = False) -> dict[str, Any]:
    """The cameras split over `processes` worker processes (as `hallwatch worker`s share a box's
    cameras through leases), each a `Pipeline` with cores/processes detector threads; the counts,
    latencies and CPU of all of them over one measured window."""
    workers = [_PipelineWorker(part, port, cameras, max(1, (os.cpu_count() or 1) // processes), substream)
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
            latencies = percentiles([x for part in parts for x in part["latencies"]])
            detect = percentiles([x for part in parts for x in part["detect_latencies"]])
            analysed = sum(part["analysed"] for part in parts)
            return {"ok": all(part["ok"] for part in parts), "processes": processes,
                    "per_camera": [n for part in parts for n in part["per_camera"]],
                    "p50_latency_s": latencies["p50"], "p95_latency_s": latencies["p95"],
                    "max_latency_s": latencies["max"], "p95_detect_latency_s": detect["p95"],
                    "detected_share": round(sum(part["detected"] for part in parts) / max(1, analysed), 3),
                    "cpu_seconds": used}

        result = measure_window(warmup_s, duration_s, reset, collect,
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

    def __init__(self, part: range, port: int, cameras: int, threads: int, substream: bool = False) -> None:
        cmd = [sys.executable, "-m", "tools.bench.pipeline", "--trial", "pipeline-worker", "--port", str(port),
               "--cameras", str(cameras), "--first", str(part.start), "--count", str(len(part)),
               "--threads", str(threads)] + (["--substream"] if substream else [])
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
        return cpu_seconds(self.proc.pid)

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def pipeline_worker(cameras: int, port: int, first: int, count: int, threads: int, substream: bool = False) -> int:
    """The child side of `_PipelineWorker`."""
    from models import load_detector
    from pipeline.loop import Pipeline

    site = bench_site(cameras, port, substream=substream, threads=threads)
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


def add_camera_options(parser: argparse.ArgumentParser) -> None:
    """The options saying what the cameras are (shared with `hallwatch bench pipeline` and `soak`)."""
    parser.add_argument("--profile", choices=["realistic", "simple"], default="realistic",
                        help="realistic: a busy, noisy hall at 25 fps, keyframe every 2 s (default); "
                             "simple: the simulator's scene at 10 fps, keyframe every second")
    parser.add_argument("--codec", choices=["h264", "h265"], default="h264", help="realistic: the main stream's codec")
    parser.add_argument("--gop-s", type=float, default=2.0, help="realistic: seconds between keyframes, 1-4")
    parser.add_argument("--bframes", type=int, default=0, help="realistic: B-frames (H.264 high profile)")
    parser.add_argument("--substream", action="store_true",
                        help="realistic: analyse each camera's 640x360 H.264 sub-stream (its detect_url)")


def add_mode_options(parser: argparse.ArgumentParser) -> None:
    """End to end or not, and where the search starts (shared with `hallwatch bench pipeline`)."""
    parser.add_argument("--end-to-end", action="store_true",
                        help="one `hallwatch worker` per process on an embedded PostgreSQL, rows counted in it")
    parser.add_argument("--start", type=int, default=8, help="cameras of the first trial (default: %(default)s)")


def cameras_option(args: argparse.Namespace) -> Cameras:
    return Cameras(profile=args.profile, codec=args.codec, gop_s=args.gop_s, bframes=args.bframes,
                   substream=args.substream)


def main(argv: list[str] | None = None) -> int:
    """`python -m tools.bench.pipeline`: the whole bench, or (with --trial) one trial."""
    parser = argparse.ArgumentParser(prog="python -m tools.bench.pipeline")
    parser.add_argument("--trial", choices=["pipeline", "e2e", "baseline", "pipeline-worker"])
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
    add_camera_options(parser)
    add_mode_options(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.trial == "pipeline-worker":
        return pipeline_worker(args.cameras, args.port, args.first, args.count, args.threads, args.substream)
    if args.trial in ("pipeline", "e2e", "baseline"):
        from tools.bench.baseline import baseline_trial
        from tools.bench.e2e import e2e_trial

        if args.trial == "baseline":
            result = baseline_trial(args.cameras, args.port, args.warmup, args.duration, args.substream)
        else:
            trial = pipeline_trial if args.trial == "pipeline" else e2e_trial
            result = trial(args.cameras, args.port, args.warmup, args.duration, args.processes, args.substream)
        print(json.dumps(result), flush=True)
        return 0
    report = bench_pipeline(max_cameras=args.cameras, warmup_s=args.warmup, duration_s=args.duration,
                            baseline=not args.no_baseline, plot=args.plot, processes=args.processes,
                            clip=cameras_option(args), end_to_end=args.end_to_end, start=args.start)
    print(json.dumps(report, indent=2) if args.json else summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
