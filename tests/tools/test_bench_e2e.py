"""`hallwatch bench pipeline --end-to-end` and `hallwatch bench soak`: the accounting as pure functions,
the camera choices, and a small real end-to-end run (a camera of the clip server, `hallwatch worker`s on
an embedded PostgreSQL, rows counted in it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import HallwatchError
from tests.fix_sites import REPO
from tests.fix_wait import await_true
from tools.bench.pipeline import Cameras
from tools.bench.soak import DISRUPTION_S, CpuLedger, Series, gaps, missing_in_gaps, steal_per_minute, unexplained_gaps
from tools.bench.trial import bench_site, cpu_seconds


def test_missing_analyses_are_counted_in_gaps_and_given_to_the_event_before() -> None:
    start, end = 1000.0, 1200.0
    steady = [start + 0.3 + i for i in range(200)]
    assert missing_in_gaps(steady, start, end, [], 1.0) == {}
    # 10 s without rows right after a kill at 1050, and 5 s much later: 9 and 4 analyses missing.
    times = [t for t in steady if not 1050 <= t < 1060 and not 1150 <= t < 1155]
    found = missing_in_gaps(times, start, end, [("database kill -9", 1050.0)], 1.0)
    assert 1150 > 1050 + DISRUPTION_S
    assert found == {"after database kill -9": 10, "elsewhere": 5}
    # A worker killed at 1100 had not written its last 4 s: the gap spans the kill, so it is the kill's.
    times = [t for t in steady if not 1096 <= t < 1120]
    assert missing_in_gaps(times, start, end, [("worker kill -9", 1100.0)], 1.0) == {"after worker kill -9": 24}
    # Nothing at all: every interval but one is missing, and none is an event's.
    assert missing_in_gaps([], start, end, [], 1.0) == {"elsewhere": 199}


def test_unexplained_gaps_say_how_long_where_and_when() -> None:
    start, end = 1000.0, 1200.0
    steady = [start + 0.3 + i for i in range(200)]
    one = [t for t in steady if not 1020 <= t < 1022 and not 1130 <= t < 1142]  # 3 s and 13 s gaps
    two = [t for t in steady if not 1070 <= t < 1074 and not 1075 <= t < 1077]   # 5 s, and 3 s after a kill
    found = unexplained_gaps({"one": gaps(one, start, end, [], 1.0),
                              "two": gaps(two, start, end, [("worker kill -9", 1074.5)], 1.0),
                              "three": gaps(steady, start, end, [], 1.0)}, start)
    assert found == {"gaps": 3, "by_length": {"3 s": 1, "4-5 s": 1, "6-10 s": 0, "over 10 s": 1}, "cameras": 2,
                     "per_minute": [1, 1, 1]}


def test_steal_is_a_share_of_the_box_per_minute() -> None:
    """Samples every 30 s of a 2-core box (60 CPU-s per sample): no steal, then 6 s stolen in one
    sample of the second minute, then a minute with no sample (the next minute's share runs from
    the sample before it)."""
    steal, cpu, samples = 0.0, 0.0, []
    for t in (0, 30, 60, 90, 180):
        steal += 6.0 if t == 90 else 0.0
        cpu += 60.0 if t else 0.0
        samples.append((float(t), steal, cpu))
    found = steal_per_minute(samples)
    assert found["per_minute"] == [0.0, 0.05, None, 0.0]  # minute 1: from the sample at 30 s to 90 s
    assert found["share"] == 0.025
    assert steal_per_minute(samples[:1]) == {"share": None, "per_minute": [None]}


BURN = "while True: pass"


def test_cpu_ledger_keeps_what_a_killed_process_used() -> None:
    """The soak kills a worker and the database: their CPU up to the last reading before the kill stays in
    the total; a process already running counts from the first reading, one started later from its start."""
    ledger = CpuLedger()
    running = subprocess.Popen([sys.executable, "-c", BURN])
    try:
        await_true(lambda: cpu_seconds(running.pid) >= 0.2, 60, "CPU used before the first reading")
        ledger.read([running.pid])
        (key,) = ledger.first
        await_true(lambda: cpu_seconds(running.pid) >= ledger.first[key] + 0.2, 60, "CPU used after it")
        ledger.read([running.pid])
    finally:
        running.kill()
        running.wait()
    used = ledger.total()
    assert used == ledger.last[key] - ledger.first[key] >= 0.2
    ledger.read([running.pid])  # gone: what it used stays
    assert ledger.total() == used
    later = subprocess.Popen([sys.executable, "-c", BURN])
    try:
        await_true(lambda: cpu_seconds(later.pid) >= 0.2, 60, "CPU used by the later process")
        ledger.read([later.pid])
    finally:
        later.kill()
        later.wait()
    assert ledger.total() >= used + 0.2  # all of the later one's CPU, not from its first reading


def test_series_report_first_last_max_and_the_slope_of_the_last_run() -> None:
    series = Series("worker 0")
    for i in range(10):  # 1 MB per 10 s: 360 MB an hour; then a restart, flat
        series.add(10.0 * i, 111, (100 + i) * 2**20, 20, 5)
    for i in range(10, 20):
        series.add(10.0 * i, 222, 80 * 2**20, 20 + (i % 2), 5)
    report = series.report()
    assert report["incarnations"] == 2 and report["samples"] == 20
    assert report["rss_mb"]["first"] == 100 and report["rss_mb"]["max"] == 109 and report["rss_mb"]["last"] == 80
    assert report["rss_mb"]["slope_per_h"] == 0
    assert report["threads"]["slope_per_h"] == 0 and report["fds"]["max"] == 21
    growing = Series("camera server")
    for i in range(10):
        growing.add(10.0 * i, 1, (100 + i) * 2**20, 20, 5)
    assert growing.report()["rss_mb"]["slope_per_h"] == pytest.approx(360, abs=0.01)


def test_camera_choices_are_checked_and_described() -> None:
    assert Cameras().profile == "realistic" and "25 fps" in Cameras().describe()
    assert "H.265" in Cameras(codec="h265").describe()
    assert "sub-stream" in Cameras(substream=True).describe()
    assert Cameras(profile="simple").server_args() == []
    assert Cameras(substream=True).server_args()[-1] == "--substream"
    for bad in ({"profile": "busy"}, {"profile": "simple", "substream": True}, {"profile": "simple", "codec": "h265"}):
        with pytest.raises(HallwatchError):
            Cameras(**bad)  # type: ignore[arg-type]


def test_the_bench_site_reads_the_substream_when_asked() -> None:
    plain = bench_site(2, 8554)
    sub = bench_site(2, 8554, substream=True, threads=1)
    assert [c.analysis_url for _, c in plain.cameras()] == ["rtsp://127.0.0.1:8554/cam0", "rtsp://127.0.0.1:8554/cam1"]
    assert [c.analysis_url for _, c in sub.cameras()] == ["rtsp://127.0.0.1:8554/cam0/sub",
                                                          "rtsp://127.0.0.1:8554/cam1/sub"]
    assert sub.detector.threads == 1


@pytest.mark.slow
def test_end_to_end_counts_rows_stored_by_workers(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hallwatch", "bench", "pipeline", "--end-to-end", "--profile", "simple",
         "--cameras", "2", "--start", "2", "--warmup", "8", "--duration", "8", "--no-baseline",
         "--plot", str(tmp_path / "bench.png"), "--json"],
        capture_output=True, text=True, cwd=REPO, timeout=900, env={**os.environ},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["mode"] == "end_to_end" and report["settings"]["end_to_end"] is True
    first = report["trials"][0]
    assert first["kind"] == "e2e" and first["cameras"] == 2 and first["processes"] == min(2, os.cpu_count() or 1)
    assert first["rows"] > 0, "analysed instants were counted from the database"
    assert first["p95_latency_s"] is not None and first["p95_latency_s"] > 0
    assert first["cpu_cores"] > 0 and first["db_cpu_cores"] >= 0
