"""`bench pipeline --end-to-end` (and `bench soak`): `hallwatch worker` processes on an embedded PostgreSQL,
what was analysed counted from the rows they stored, and their CPU and the database's."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tools.bench.trial import REPO, bench_site, cpu_seconds, free_port, measure_window, percentiles

log = logging.getLogger(__name__)

E2E_SETTLE_S = 3.0  # every camera has a stored analysis this recent before measuring
E2E_DRAIN_S = 6.0  # rows of the window's last frames may arrive this long after it


def e2e_trial(cameras: int, port: int, warmup_s: float, duration_s: float, processes: int = 1,
              substream: bool = False) -> dict[str, Any]:
    """`processes` `hallwatch worker`s (one per core by default, each with cores/processes detector
    threads) sharing the cameras through their leases, writing to a fresh embedded PostgreSQL; the
    analysed instants of each camera and their latencies counted from the stored rows."""
    from storage.server import embedded_server

    threads = max(1, (os.cpu_count() or 1) // processes)
    with tempfile.TemporaryDirectory(prefix="hallwatch-e2e-") as tmp, embedded_server(Path(tmp) / "db") as dsn:
        with WorkerFleet(Path(tmp), dsn, bench_site(cameras, port, substream=substream, threads=threads,
                                                     raw_only=True), processes) as fleet:
            return fleet.measure(warmup_s, duration_s)


class WorkerFleet:
    """`hallwatch worker` processes on one database, and what their rows and CPU say."""

    def __init__(self, directory: Path, dsn: str, site: dict[str, Any], processes: int) -> None:
        import yaml

        from storage.server import DATABASE_URL_ENV

        self.directory, self.dsn, self.site = directory, dsn, site
        self.cameras = [(hall["id"], hall["cameras"][0]["id"]) for hall in site["halls"]]
        self.env = {**os.environ, DATABASE_URL_ENV: dsn}
        self.metrics_ports: list[int] = []
        self.workers: list[subprocess.Popen[bytes]] = []
        self._logs: list[Path] = []
        metrics = _metrics_supported()
        for index in range(processes):
            worker_site = dict(site)
            if metrics:  # each worker its own port: their counts of detected frames
                self.metrics_ports.append(free_port())
                worker_site["metrics"] = {"worker_port": self.metrics_ports[-1]}
            path = directory / f"site-{index}.yaml"
            path.write_text(yaml.safe_dump(worker_site, sort_keys=False))
            self._logs.append(directory / f"worker-{index}.log")
            self.start_worker(index)

    def start_worker(self, index: int) -> None:
        """Start worker `index` (again, after it was killed)."""
        cmd = [sys.executable, "-m", "hallwatch", "worker", "--site", str(self.directory / f"site-{index}.yaml"),
               "--worker-id", f"bench-{index}"]
        with open(self._logs[index], "ab") as log_file:
            proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, cwd=REPO, env=self.env)
        if index < len(self.workers):
            self.workers[index] = proc
        else:
            self.workers.append(proc)

    def __enter__(self) -> WorkerFleet:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.workers:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def log_tail(self, index: int, chars: int = 2000) -> str:
        from core.redact import redact_text

        return redact_text(self._logs[index].read_text(errors="replace")[-chars:])

    def alive(self) -> bool:
        return all(proc.poll() is None for proc in self.workers)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.dsn, connect_timeout=5) as conn:
            return list(conn.execute(sql, params).fetchall())

    def recent_cameras(self, seconds: float) -> int:
        """Cameras with a stored analysis of a frame at most `seconds` old."""
        try:
            rows = self.query("SELECT count(DISTINCT hall_id) FROM desk_sample WHERE state <> 'unknown' "
                              "AND ts > now() - make_interval(secs => %s)", (seconds,))
        except Exception:  # the schema may not be there yet  # noqa: BLE001
            return 0
        return int(rows[0][0])

    def counts(self, start: float, end: float) -> dict[str, Any]:
        """Analysed instants per camera with frames in [start, end) (rows whose desks were seen), and each
        instant's latency: from the frame's arrival at the reader (`ts`) to its first row's `inserted_at`."""
        rows = self.query(
            "SELECT hall_id, ts, extract(epoch FROM min(inserted_at) - ts) FROM desk_sample "
            "WHERE ts >= to_timestamp(%s) AND ts < to_timestamp(%s) AND state <> 'unknown' "
            "GROUP BY hall_id, ts", (start, end))
        per_hall: dict[str, int] = {}
        latencies: list[float] = []
        for hall_id, _, latency in rows:
            per_hall[hall_id] = per_hall.get(hall_id, 0) + 1
            if latency is not None:
                latencies.append(float(latency))
        return {"per_camera": [per_hall.get(hall, 0) for hall, _ in self.cameras], "latencies": latencies,
                "rows": len(rows)}

    def cpu_seconds(self) -> tuple[float, float]:
        """CPU seconds so far of the workers, and of the database server's processes."""
        import psutil

        workers = sum(cpu_seconds(proc.pid) for proc in self.workers if proc.poll() is None)
        database = 0.0
        try:
            pid = int((self.directory / "db" / "postgres" / "postmaster.pid").read_text().split()[0])
            postmaster = psutil.Process(pid)
            for proc in [postmaster, *postmaster.children(recursive=True)]:
                try:
                    times = proc.cpu_times()
                    database += times.user + times.system
                except psutil.Error:
                    continue
        except (OSError, ValueError, psutil.Error):
            pass
        return workers, database

    def frames(self) -> tuple[float, float] | None:
        """Frames analysed and detected so far, summed over the workers' metrics (None: not served)."""
        if not self.metrics_ports:
            return None
        import urllib.request

        analysed = detected = 0.0
        for port in self.metrics_ports:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
                    text = answer.read().decode()
            except OSError:
                return None
            for line in text.splitlines():
                if line.startswith("hallwatch_frames_analysed_total "):
                    analysed += float(line.split()[1])
                elif line.startswith("hallwatch_frames_detected_total "):
                    detected += float(line.split()[1])
        return analysed, detected

    def measure(self, warmup_s: float, duration_s: float) -> dict[str, Any]:
        marks: dict[str, Any] = {}

        def settled() -> bool:
            return self.recent_cameras(E2E_SETTLE_S) == len(self.cameras)

        def reset() -> None:
            marks.update(start=time.time(), cpu=self.cpu_seconds(), frames=self.frames())

        def collect() -> dict[str, Any]:
            end, cpu = time.time(), self.cpu_seconds()
            frames = self.frames()
            time.sleep(E2E_DRAIN_S)  # the rows of the window's last frames are on their way
            found = self.counts(marks["start"], end)
            latencies = percentiles(found["latencies"])
            wall = end - marks["start"]
            share = None
            if frames is not None and marks["frames"] is not None:
                analysed, detected = (now - then for now, then in zip(frames, marks["frames"], strict=True))
                share = round(detected / analysed, 3) if analysed > 0 else None
            return {"ok": self.alive(), "processes": len(self.workers), "per_camera": found["per_camera"],
                    "rows": found["rows"], "p50_latency_s": latencies["p50"], "p95_latency_s": latencies["p95"],
                    "max_latency_s": latencies["max"], "detected_share": share,
                    "worker_cpu_cores": round((cpu[0] - marks["cpu"][0]) / wall, 3),
                    "db_cpu_cores": round((cpu[1] - marks["cpu"][1]) / wall, 3)}

        result = measure_window(warmup_s, duration_s, reset, collect, settled)
        result["cpu_cores"] = result.pop("worker_cpu_cores")  # the workers'; the database's beside it
        if not result["ok"]:
            log.warning("a worker died: %s", self.log_tail(0))
        return result


def _metrics_supported() -> bool:
    from core.config import SiteConfig

    return "metrics" in SiteConfig.model_fields
