"""`hallwatch bench soak`: N cameras (default 32) for a long time (default an hour) through one
`hallwatch worker` per core on an embedded PostgreSQL, with the things that happen in months of
operation inside it, and whether anything leaked or was lost.

- Cameras: the clip server (`tools.simulator.clip`, the realistic profile by default) in a child process.
- At 25 % of the run the camera server is restarted (every stream drops and comes back); at 50 % the
  database's postmaster is killed (`kill -9`: the embedded server's supervisor starts it again and the
  workers' writers replay their spools); at 75 % a worker is killed (`kill -9`) and started again 5 s
  later, as a service manager with `Restart=always` would.
- Every `--sample-s` (10 s): RSS, open file descriptors and threads of the camera server, each worker
  and the database server (postmaster and backends summed), reported per process as first / last /
  max and a least-squares slope per hour over the samples of its last incarnation; and the share of
  the box's CPU time the hypervisor took (steal), per minute, to tell a virtual machine held up by its
  host from a pipeline falling behind.
- Nothing lost: analysed instants stored in `desk_sample` (rows whose desks were seen) against the
  instants expected (cameras x seconds x analysis rate), and the analyses missing in each camera's
  gaps (longer than two intervals), split into gaps that span a disruption or start within a minute
  after it (expected: streams reconnect, a killed worker's leases expire and the rows it held are lost)
  and the rest (expected: none). Rows made while the database was down must arrive from the spool:
  gaps after the database kill say whether they did.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import HallwatchError
from tools.bench.e2e import WorkerFleet
from tools.bench.pipeline import Cameras, CameraServer, add_camera_options, cameras_option
from tools.bench.trial import ANALYSIS_FPS, bench_site, cpu_reading, free_port

log = logging.getLogger(__name__)

SAMPLE_S = 10.0
RESTART_DELAY_S = 5.0  # a killed worker is started again after this (systemd's RestartSec)
DISRUPTION_S = 60.0  # missing seconds this long after an event are the event's
WARMUP_S = 30.0


@dataclass
class Series:
    """One process role's samples: (seconds since start, rss bytes, fds, threads), and its incarnations."""

    role: str
    samples: list[tuple[float, float, int, int]] = field(default_factory=list)
    starts: list[int] = field(default_factory=lambda: [0])  # sample index where each incarnation begins
    pid: int | None = None

    def add(self, t: float, pid: int, rss: float, fds: int, threads: int) -> None:
        if self.pid is not None and pid != self.pid:
            self.starts.append(len(self.samples))
        self.pid = pid
        self.samples.append((t, rss, fds, threads))

    def report(self) -> dict[str, Any]:
        if not self.samples:
            return {"role": self.role, "samples": 0}
        last = self.samples[self.starts[-1]:]
        out: dict[str, Any] = {"role": self.role, "samples": len(self.samples), "incarnations": len(self.starts)}
        for index, name, scale in ((1, "rss_mb", 1 / 2**20), (2, "fds", 1.0), (3, "threads", 1.0)):
            values = [s[index] * scale for s in self.samples]
            out[name] = {"first": round(values[0], 1), "last": round(values[-1], 1), "max": round(max(values), 1),
                         "slope_per_h": _slope([s[0] for s in last], [s[index] * scale for s in last])}
        return out


def _slope(ts: list[float], values: list[float]) -> float | None:
    """Least-squares growth per hour (None: fewer than 3 samples)."""
    if len(ts) < 3 or max(ts) - min(ts) <= 0:
        return None
    return round(float(np.polyfit(np.asarray(ts), np.asarray(values), 1)[0]) * 3600, 2)


def gaps(times: list[float], start: float, end: float, events: list[tuple[str, float]],
         interval: float) -> list[tuple[str, float, float]]:
    """One camera's gaps longer than two intervals in its analysed instants in [start, end), as
    (owner, from, to): the event the gap spans (a killed worker loses the rows it had not written yet,
    so its cameras' gaps start before the kill) or whose minute the gap starts in, else "elsewhere"."""
    found = []
    stamps = [start, *sorted(times), end]
    for a, b in zip(stamps, stamps[1:], strict=False):
        if b - a <= 2 * interval:
            continue
        owner = next((name for name, ts in reversed(events) if a < ts < b or ts - interval <= a < ts + DISRUPTION_S),
                     None)
        found.append((f"after {owner}" if owner else "elsewhere", a, b))
    return found


def missing_in_gaps(times: list[float], start: float, end: float, events: list[tuple[str, float]],
                    interval: float) -> dict[str, int]:
    """Analyses missing from one camera's analysed instants in [start, end): in every gap longer than two
    intervals, one per interval after the first, by the gap's owner (`gaps`)."""
    missing: dict[str, int] = {}
    for key, a, b in gaps(times, start, end, events, interval):
        missing[key] = missing.get(key, 0) + round((b - a) / interval) - 1
    return missing


def unexplained_gaps(per_camera: dict[str, list[tuple[str, float, float]]], start: float) -> dict[str, Any]:
    """The gaps no disruption explains: how many, how long, on how many cameras, and when (per
    minute of the run), to tell a loaded box (short gaps everywhere) from a failing stream."""
    bins = {"3 s": (2.0, 3.5), "4-5 s": (3.5, 5.5), "6-10 s": (5.5, 10.5), "over 10 s": (10.5, float("inf"))}
    lengths: dict[str, int] = dict.fromkeys(bins, 0)
    per_minute: dict[int, int] = {}
    cameras = 0
    for found in per_camera.values():
        mine = [(a, b) for owner, a, b in found if owner == "elsewhere"]
        cameras += bool(mine)
        for a, b in mine:
            lengths[next(k for k, (lo, hi) in bins.items() if lo < b - a <= hi)] += 1
            minute = int((a - start) // 60)
            per_minute[minute] = per_minute.get(minute, 0) + 1
    return {"gaps": sum(lengths.values()), "by_length": lengths, "cameras": cameras,
            "per_minute": [per_minute.get(m, 0) for m in range(max(per_minute, default=-1) + 1)]}


def _sample(pids: list[int]) -> tuple[float, int, int] | None:
    """RSS, open fds and threads summed over processes (None: none of them alive)."""
    import psutil

    rss, fds, threads, alive = 0.0, 0, 0, False
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            with proc.oneshot():
                rss += proc.memory_info().rss
                fds += proc.num_fds()
                threads += proc.num_threads()
            alive = True
        except psutil.Error:
            continue
    return (rss, fds, threads) if alive else None


def _box_cpu() -> tuple[float, float]:
    """CPU seconds of the whole box since boot: stolen by the hypervisor, and all of them."""
    import psutil

    times = psutil.cpu_times()
    counted_twice = getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)  # inside user and nice
    return getattr(times, "steal", 0.0), sum(times) - counted_twice


def steal_per_minute(samples: list[tuple[float, float, float]]) -> dict[str, Any]:
    """From cumulative (seconds since start, steal s, all CPU s) samples: the share of the box's CPU
    time stolen over the run and in each minute of it, from the last sample before the minute to its
    last (None: no sample in the minute)."""
    def share(a: tuple[float, float, float], b: tuple[float, float, float]) -> float | None:
        return round((b[1] - a[1]) / (b[2] - a[2]), 4) if b[2] > a[2] else None

    per_minute = []
    for minute in range(int(samples[-1][0] // 60) + 1 if samples else 0):
        opened = [x for x in samples if x[0] < 60 * minute][-1:]  # the last sample before the minute opens it
        span = opened + [x for x in samples if 60 * minute <= x[0] < 60 * (minute + 1)]
        per_minute.append(share(span[0], span[-1]) if len(span) >= 2 else None)
    return {"share": share(samples[0], samples[-1]) if len(samples) >= 2 else None, "per_minute": per_minute}


def _postmaster(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class CpuLedger:
    """CPU seconds of processes that come and go (killed, restarted, backends of a restarted database):
    each process's growth from the first reading (from 0 for a process that started after it) to its
    last reading, summed, so a killed process keeps what it used up to its last reading. A process is
    its pid and start time (pids are reused)."""

    def __init__(self) -> None:
        self.first: dict[tuple[int, int], float] = {}
        self.last: dict[tuple[int, int], float] = {}
        self._opened = False

    def read(self, pids: list[int]) -> None:
        for pid in pids:
            try:
                started, seconds = cpu_reading(pid)
            except (OSError, ValueError, IndexError):
                continue  # gone since it was listed
            self.first.setdefault((pid, started), seconds if not self._opened else 0.0)
            self.last[(pid, started)] = seconds
        self._opened = True

    def total(self) -> float:
        return sum(self.last[key] - self.first[key] for key in self.last)


def _database_pids(data_dir: Path) -> list[int]:
    import psutil

    pid = _postmaster(data_dir)
    if pid is None:
        return []
    try:
        return [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]
    except psutil.Error:
        return []


class Soak:
    """The run: cameras, database, workers, the sampler and the disruptions."""

    def __init__(self, *, cameras: int, duration_s: float, processes: int, clip: Cameras, directory: Path,
                 sample_s: float = SAMPLE_S) -> None:
        self.cameras, self.duration_s, self.processes = cameras, duration_s, processes
        self.clip, self.directory, self.sample_s = clip, directory, sample_s
        self.port = free_port()
        self.events: list[dict[str, Any]] = []
        self.series: dict[str, Series] = {}
        self.box: list[tuple[float, float, float]] = []  # (seconds since start, steal s, all CPU s) of the box
        self.started = 0.0
        self.server: CameraServer | None = None
        self.fleet: WorkerFleet | None = None
        self.cpu = {"workers": CpuLedger(), "database": CpuLedger()}

    def run(self) -> dict[str, Any]:
        from storage.server import embedded_server

        db_dir = self.directory / "db"
        self.server = CameraServer(self.cameras, self.port, self.clip)
        try:
            with embedded_server(db_dir) as dsn:
                threads = max(1, (os.cpu_count() or 1) // self.processes)
                site = bench_site(self.cameras, self.port, substream=self.clip.substream, threads=threads,
                                  raw_only=True)
                with WorkerFleet(self.directory, dsn, site, self.processes) as fleet:
                    self.fleet = fleet
                    self._await_rows()
                    return self._soak(db_dir)
        finally:
            if self.server is not None:
                self.server.close()

    def _await_rows(self) -> None:
        assert self.fleet is not None
        deadline = time.monotonic() + 10 * WARMUP_S
        time.sleep(WARMUP_S)  # a warm-up, not a wait for an event: the first rows come within it
        while self.fleet.recent_cameras(5.0) < self.cameras:
            if time.monotonic() > deadline or not self.fleet.alive():
                raise HallwatchError(f"the workers did not analyse every camera: {self.fleet.log_tail(0)}")
            time.sleep(1.0)

    def _soak(self, db_dir: Path) -> dict[str, Any]:
        assert self.fleet is not None and self.server is not None
        self.started = time.time()
        plan = [(0.25, "camera server restart", self._restart_cameras),
                (0.50, "database kill -9", lambda: self._kill_database(db_dir)),
                (0.75, "worker kill -9", self._kill_worker)]
        load_before = os.getloadavg()[0]
        self._read_cpu(db_dir)
        next_sample = 0.0
        while (elapsed := time.time() - self.started) < self.duration_s:
            while plan and elapsed >= plan[0][0] * self.duration_s:
                _, name, action = plan.pop(0)
                log.warning("soak: %s at %.0f s", name, elapsed)
                self.events.append({"event": name, "at_s": round(elapsed, 1), "ts": time.time()})
                self._read_cpu(db_dir)  # what a process about to be killed used is kept
                action()
            if elapsed >= next_sample:
                self._sample_all(elapsed, db_dir)
                next_sample += self.sample_s
            time.sleep(min(1.0, max(0.05, next_sample - (time.time() - self.started))))
        end = time.time()
        self._read_cpu(db_dir)
        time.sleep(8.0)  # the last rows on their way
        return self._report(end, load_before)

    def _read_cpu(self, db_dir: Path) -> None:
        assert self.fleet is not None
        self.cpu["workers"].read([proc.pid for proc in self.fleet.workers if proc.poll() is None])
        self.cpu["database"].read(_database_pids(db_dir))

    def _sample_all(self, elapsed: float, db_dir: Path) -> None:
        assert self.fleet is not None and self.server is not None
        roles: list[tuple[str, list[int]]] = [("camera server", [self.server.proc.pid])]
        roles += [(f"worker {i}", [proc.pid]) for i, proc in enumerate(self.fleet.workers)]
        roles.append(("database", _database_pids(db_dir)))
        for role, pids in roles:
            got = _sample(pids)
            if got is None:
                continue
            series = self.series.setdefault(role, Series(role))
            series.add(elapsed, pids[0], *got)
        self.box.append((elapsed, *_box_cpu()))
        self._read_cpu(db_dir)

    def _restart_cameras(self) -> None:
        assert self.server is not None
        self.server.close()
        self.server = CameraServer(self.cameras, self.port, self.clip)

    def _kill_database(self, db_dir: Path) -> None:
        pid = _postmaster(db_dir)
        if pid is None:
            raise HallwatchError("no postmaster.pid: is the embedded server running?")
        os.kill(pid, signal.SIGKILL)

    def _kill_worker(self) -> None:
        assert self.fleet is not None
        proc = self.fleet.workers[0]
        proc.kill()
        proc.wait()
        threading.Timer(RESTART_DELAY_S, self.fleet.start_worker, args=(0,)).start()

    def _report(self, end: float, load_before: float) -> dict[str, Any]:
        assert self.fleet is not None
        fleet, start = self.fleet, self.started
        rows = fleet.query(
            "SELECT hall_id, extract(epoch FROM ts)::float8 FROM desk_sample "
            "WHERE ts >= to_timestamp(%s) AND ts < to_timestamp(%s) AND state <> 'unknown' GROUP BY 1, 2",
            (start, end))
        unknown = fleet.query("SELECT count(DISTINCT (hall_id, ts)) FROM desk_sample WHERE ts >= to_timestamp(%s) "
                              "AND ts < to_timestamp(%s) AND state = 'unknown'", (start, end))[0][0]
        seen: dict[str, list[float]] = {}
        for hall_id, ts in rows:
            seen.setdefault(hall_id, []).append(float(ts))
        events = [(e["event"], e["ts"]) for e in self.events]
        missing = {"after " + name: 0 for name, _ in events} | {"elsewhere": 0}
        every_gap = {hall: gaps(seen.get(hall, []), start, end, events, 1.0 / ANALYSIS_FPS)
                     for hall, _ in fleet.cameras}
        for hall, _ in fleet.cameras:
            for owner, lost in missing_in_gaps(seen.get(hall, []), start, end, events, 1.0 / ANALYSIS_FPS).items():
                missing[owner] += lost
        for event in self.events:  # how long until every camera was analysed again
            after = [min((t for t in seen.get(hall, []) if t > event["ts"]), default=None)
                     for hall, _ in fleet.cameras]
            event["all_cameras_back_after_s"] = (None if any(a is None for a in after)
                                                 else round(max(a for a in after if a is not None) - event["ts"], 1))
            del event["ts"]
        wall = end - start
        expected = int(len(fleet.cameras) * wall * ANALYSIS_FPS)
        return {
            "cameras": self.cameras, "duration_s": round(wall, 1), "processes": self.processes,
            "clip": self.clip.describe(),
            "analyses_expected": expected, "analyses_stored": len(rows), "unknown_instants": int(unknown),
            "stored_share": round(len(rows) / max(1, expected), 4), "missing_seconds": missing,
            "unexplained_gaps": unexplained_gaps(every_gap, start),
            "events": self.events, "processes_sampled": [s.report() for s in self.series.values()],
            "worker_cpu_cores": round(self.cpu["workers"].total() / wall, 3),
            "db_cpu_cores": round(self.cpu["database"].total() / wall, 3),
            "steal": steal_per_minute(self.box),
            "machine": {"date": datetime.fromtimestamp(start, UTC).isoformat(timespec="seconds"),
                        "cpu_count": os.cpu_count(), "load_average_before": round(load_before, 2),
                        "load_average_after": round(os.getloadavg()[0], 2)},
        }


def bench_soak(*, cameras: int = 32, duration_s: float = 3600.0, processes: int | None = None,
               clip: Cameras | None = None, data_dir: Path | None = None, sample_s: float = SAMPLE_S) -> dict[str, Any]:
    processes = processes or os.cpu_count() or 1
    if cameras < 1 or duration_s < 4 * sample_s or processes < 1:
        raise HallwatchError("need --cameras >= 1, --processes >= 1 and a duration of at least 4 samples")
    with tempfile.TemporaryDirectory(prefix="hallwatch-soak-", dir=data_dir) as tmp:
        return Soak(cameras=cameras, duration_s=duration_s, processes=processes, clip=clip or Cameras(),
                    directory=Path(tmp), sample_s=sample_s).run()


def summary(report: dict[str, Any]) -> str:
    lines = [f"{report['cameras']} cameras for {report['duration_s']:.0f} s, {report['processes']} workers; "
             f"{report['clip']}",
             f"analyses stored {report['analyses_stored']} of {report['analyses_expected']} expected "
             f"({100 * report['stored_share']:.2f} %); analyses missing in gaps: "
             + ", ".join(f"{k} {v}" for k, v in report["missing_seconds"].items()),
             "gaps no disruption explains: " + json.dumps(report["unexplained_gaps"]),
             "events: " + "; ".join(f"{e['event']} at {e['at_s']:.0f} s, every camera back after "
                                    f"{e['all_cameras_back_after_s']} s" for e in report["events"]),
             f"CPU: workers {report['worker_cpu_cores']} cores, database {report['db_cpu_cores']} cores; "
             f"stolen by the hypervisor: {report['steal']['share']} of the box's, per minute "
             + json.dumps(report["steal"]["per_minute"]),
             "",
             f"{'process':<14} {'RSS MB first/last/max':>22} {'slope/h':>8} {'fds':>14} {'slope/h':>8} "
             f"{'threads':>12} {'slope/h':>8} {'runs':>4}"]
    for proc in report["processes_sampled"]:
        if not proc["samples"]:
            continue
        cells = []
        for name, width in (("rss_mb", 22), ("fds", 14), ("threads", 12)):
            v = proc[name]
            cells.append(f"{v['first']:g}/{v['last']:g}/{v['max']:g}".rjust(width))
            cells.append(f"{v['slope_per_h'] if v['slope_per_h'] is not None else '-'!s:>8}")
        lines.append(f"{proc['role']:<14} " + " ".join(cells) + f" {proc['incarnations']:>4}")
    machine = report["machine"]
    lines.append(f"\n{machine['date']}, {machine['cpu_count']} cores, load average "
                 f"{machine['load_average_before']} -> {machine['load_average_after']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.soak", description=__doc__.split("\n\n")[0])
    add_soak_options(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run_from_args(args)


def add_soak_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cameras", type=int, default=32, help="cameras (default: %(default)s)")
    parser.add_argument("--duration", type=float, default=3600.0, help="seconds (default: %(default)s)")
    parser.add_argument("--processes", type=int, help="workers (default: one per core)")
    parser.add_argument("--sample-s", type=float, default=SAMPLE_S, help="seconds between samples (default: 10)")
    parser.add_argument("--data-dir", type=Path, help="where the database goes (default: a temporary directory)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    add_camera_options(parser)


def run_from_args(args: argparse.Namespace) -> int:
    report = bench_soak(cameras=args.cameras, duration_s=args.duration, processes=args.processes,
                        clip=cameras_option(args), data_dir=args.data_dir, sample_s=args.sample_s)
    print(json.dumps(report, indent=2) if args.json else summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
