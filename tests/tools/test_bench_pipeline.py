"""`hallwatch bench pipeline`: the search and the sustain rule as pure functions, and a small real
run (two cameras of the clip server, the pipeline and the Ultralytics baseline) for its report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fix_sites import REPO
from tools.bench.pipeline import Trial, _slices, search


def result(cameras: int, *, per_camera: float = 30, p95: float | None = 0.5, ok: bool = True) -> dict[str, Any]:
    return {"ok": ok, "per_camera": [per_camera] * cameras, "duration_s": 30.0, "p50_latency_s": 0.1,
            "p95_latency_s": p95, "max_latency_s": 1.0, "cpu_cores": 1.0}


@pytest.mark.parametrize(("trial", "sustained"), [
    (result(4), True),
    (result(4, per_camera=28.5), True),   # 95 % of the analyses of 30 s at 1/s, all together
    (result(4, per_camera=27), False),    # every camera at 90 % is not enough together
    ({**result(4), "per_camera": [26, 30, 30, 30]}, True),  # one camera at 90 % (less one at the edges) is
    ({**result(4), "per_camera": [25, 30, 30, 30]}, False),  # one below that is not
    (result(4, p95=2.0), True),
    (result(4, p95=2.01), False),
    (result(4, p95=None), False),         # nothing analysed
    (result(4, ok=False), False),         # the trial's pipeline died
    (result(3), False),                   # a camera gave no rows at all
])
def test_a_count_is_sustained_at_the_rate_and_within_the_latency(trial: dict[str, Any], sustained: bool) -> None:
    assert Trial("pipeline", 4, trial, 0.0).sustained is sustained


@pytest.mark.parametrize(("capacity", "start", "limit", "step", "found"), [
    (37, 8, 64, 0, (33, 37)),   # doubling to 64, bisecting the gap to within 4
    (64, 8, 64, 0, (64, 64)),
    (100, 8, 64, 0, (64, 64)),  # the limit is the most it tries
    (3, 8, 64, 0, (3, 3)),      # below the start: halving down
    (0, 8, 64, 0, (0, 0)),
    (2, 1, 64, 1, (2, 2)),      # the baseline: one by one
    (0, 1, 64, 1, (0, 0)),
])
def test_search_finds_the_most_sustained_cameras(capacity: int, start: int, limit: int, step: int,
                                                 found: tuple[int, int]) -> None:
    tried: list[int] = []

    def run(n: int) -> Trial:
        tried.append(n)
        return Trial("pipeline", n, result(n, p95=0.5 if n <= capacity else 5.0), 0.0)

    best, trials = search(run, start=start, limit=limit, step=step)
    assert found[0] <= best <= found[1] and best <= capacity
    assert len(set(tried)) == len(tried) and [t.cameras for t in trials] == tried


@pytest.mark.slow
def test_bench_pipeline_reports_both_and_what_the_cameras_cost(tmp_path: Path) -> None:
    plot = tmp_path / "bench.png"
    done = subprocess.run(
        [sys.executable, "-m", "hallwatch", "bench", "pipeline", "--cameras", "2", "--warmup", "5", "--duration", "6",
         "--plot", str(plot), "--json"],
        capture_output=True, text=True, cwd=REPO, timeout=900, env={**os.environ},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert {"cameras_sustained", "baseline_cameras_sustained", "ratio_vs_baseline", "p95_latency_s",
            "cpu_count"} <= report.keys()
    assert report["cpu_count"] == os.cpu_count()
    assert 0 <= report["cameras_sustained"] <= 2 and 0 <= report["baseline_cameras_sustained"] <= 2
    kinds = {row["kind"] for row in report["trials"]}
    assert kinds == {"pipeline", "baseline"}
    assert all(row["server_cpu_cores"] >= 0 and row["cpu_cores"] > 0 for row in report["trials"])
    assert report["camera_server"]["cameras"] >= 1
    assert report["pipeline_processes"] == os.cpu_count()
    for row in report["trials"]:  # the cameras are dealt out to one worker process per core
        assert row.get("processes") == (min(os.cpu_count() or 1, row["cameras"]) if row["kind"] == "pipeline" else None)
    assert plot.stat().st_size > 1000


@pytest.mark.parametrize(("cameras", "processes", "expected"), [
    (10, 3, [range(0, 4), range(4, 7), range(7, 10)]),
    (2, 2, [range(0, 1), range(1, 2)]),
    (1, 2, [range(0, 1)]),
    (64, 1, [range(0, 64)]),
])
def test_cameras_are_dealt_out_evenly(cameras: int, processes: int, expected: list[range]) -> None:
    assert _slices(cameras, processes) == expected
