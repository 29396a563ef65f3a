"""`hallwatch bench db` with a small N: the report's keys and that every rate is a positive number
(no timing assertions: the machine's load decides those)."""

from __future__ import annotations

import json

import psycopg
import pytest

from pipeline.rows import DeskSample, HealthSample, ZoneSample
from storage.server import DATABASE_URL_ENV
from tools.bench.db import run_db_bench, synthetic_samples


def test_synthetic_samples_mix_kinds_with_distinct_keys() -> None:
    samples = synthetic_samples(5000)
    assert len(samples) == 5000
    kinds = {type(s) for s in samples}
    assert kinds == {DeskSample, ZoneSample, HealthSample}
    keys = [(type(s), s.hall_id, getattr(s, "window_id", None) or getattr(s, "zone_id", None) or s.camera_id, s.ts)
            for s in samples]
    assert len(set(keys)) == len(keys)
    assert all(s.ts.tzinfo is not None for s in samples)
    assert synthetic_samples(5000) == samples  # seeded


def test_db_bench_reports_both_rates_and_their_ratio(pg_server: str, capsys: pytest.CaptureFixture[str]) -> None:
    report = run_db_bench(dsn=pg_server, data_dir=None, rows=3000, as_json=True, repeats=1)
    printed = json.loads(capsys.readouterr().out)
    assert printed == report
    for key in ("writer_rows_per_s", "copy_rows_per_s", "ratio"):
        assert isinstance(report[key], int | float) and report[key] > 0, key
    assert report["rows"] == 3000 and sum(report["mix"].values()) == 3000
    assert report["target_ratio"] == 0.7 and isinstance(report["meets_target"], bool)
    assert report["cpu_count"] >= 1 and report["postgres_version"] and report["date"]
    assert len(report["writer_runs_rows_per_s"]) == len(report["copy_runs_rows_per_s"]) == 1
    with psycopg.connect(pg_server) as conn:  # the scratch database is gone
        left = conn.execute("SELECT count(*) FROM pg_database WHERE datname LIKE 'hallwatch_bench_%'").fetchone()
    assert left == (0,)


def test_db_bench_prints_a_summary(pg_server: str, capsys: pytest.CaptureFixture[str]) -> None:
    report = run_db_bench(dsn=pg_server, data_dir=None, rows=500, as_json=False, repeats=2)
    out = capsys.readouterr().out
    assert "SampleWriter" in out and "raw COPY" in out and f"{report['ratio']:.2f}" in out
    assert len(report["writer_runs_rows_per_s"]) == 2


def test_db_bench_starts_an_embedded_server_without_a_dsn(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    report = run_db_bench(dsn=None, data_dir=None, rows=300, as_json=True, repeats=1)  # in a temp dir
    assert report["database"] == "embedded" and report["writer_rows_per_s"] > 0
    assert json.loads(capsys.readouterr().out)["rows"] == 300
