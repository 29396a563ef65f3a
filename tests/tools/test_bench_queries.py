"""`hallwatch bench queries` at a tiny scale: it loads, refreshes the rollups, runs every timed panel
and reports; the numbers themselves belong in docs/benchmarks.md ("Dashboard queries"), not in assertions."""

from __future__ import annotations

import datetime as dt
import json

import psycopg
import pytest

from tools.bench.queries import END, LAST_DAY, TIMED, run_queries_bench


@pytest.mark.parametrize("days", [0.5, 3])  # the minute-rollup branch, and the hour-rollup one
def test_queries_bench_reports_every_panel(pg_server: str, capsys: pytest.CaptureFixture[str], days: float) -> None:
    report = run_queries_bench(dsn=pg_server, data_dir=None, days=days, windows=12, repeats=2, as_json=True)
    assert json.loads(capsys.readouterr().out) == report
    minutes = int(days * 1440)
    assert report["rows"] == {"desk_sample": 12 * minutes, "zone_sample": 3 * minutes, "camera_health": 6 * minutes}
    assert report["rollup_mode"] == "plain" and report["rollup_rows"]["desk_minute"] == 12 * minutes
    hours = -(-minutes // 60)  # the load ends on the hour; the first hour may be partial
    assert report["rollup_rows"]["desk_hall_hour"] == 3 * hours and report["rollup_rows"]["desk_city_hour"] == hours
    assert report["rollup_rows"]["desk_city_day"] == len({(END - dt.timedelta(minutes=m)).date()
                                                         for m in range(1, minutes + 1)})
    assert set(report["queries"]) == {*TIMED, LAST_DAY[0]}
    for timing in report["queries"].values():
        assert 0 < timing["p50_ms"] <= timing["p95_ms"] and timing["rows"] > 0
    web = report["web_trend"]
    assert 0 < web["p50_ms"] <= web["p95_ms"] and web["buckets"] * web["bucket_s"] >= days * 86400
    assert isinstance(report["meets_target"], bool) and report["target_p95_ms"] == 100.0
    with psycopg.connect(pg_server) as conn:  # the scratch database is gone
        left = conn.execute("SELECT count(*) FROM pg_database WHERE datname LIKE 'hallwatch_bench_%'").fetchone()
    assert left == (0,)


def test_queries_bench_summary_and_bad_arguments(pg_server: str, capsys: pytest.CaptureFixture[str]) -> None:
    from core.errors import HallwatchError

    run_queries_bench(dsn=pg_server, data_dir=None, days=0.1, windows=5, repeats=1, as_json=False)
    out = capsys.readouterr().out
    assert "staffed_trend" in out and "web_trend" in out and "p95" in out and "target <= 100 ms" in out
    with pytest.raises(HallwatchError, match="positive"):
        run_queries_bench(dsn=pg_server, data_dir=None, days=0, windows=5, repeats=1, as_json=True)
