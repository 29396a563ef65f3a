"""`hallwatch bench db`: how fast `SampleWriter` stores samples, against raw COPY of the same rows
on the same server in the same run.

The samples are a synthetic province: 120 halls of 3 cameras, each camera with one or two service
windows and one or two queue or self-service zones, analysed once a second; every camera-second
gives its desk and zone samples and one camera-health sample (distinct keys throughout, a seeded
random mix of states and counts).

- writer: `put()` all samples into a started `SampleWriter`, then `flush()`; wall time of both.
- COPY: the same rows, already as tuples, with one binary `COPY` per table in one transaction into
  fresh tables of the same shape (`CREATE TABLE ... (LIKE ... INCLUDING ALL)`: keys and indexes).

Both run `repeats` times, alternating which goes first, after a CHECKPOINT; the report gives the
medians and their ratio (target: writer >= 0.7 x COPY). Everything happens in a scratch database
that is dropped at the end; without a DSN, in an embedded server in `data_dir` (default: a
temporary directory). Run `python -m tools.bench.db [--rows N] [--json]`; the CLI's
`hallwatch bench db` calls `run_db_bench`."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from core.errors import DatabaseError, HallwatchError
from core.redact import redact_text, redact_url
from pipeline.rows import DeskSample, HealthSample, Sample, ZoneSample
from storage import Database, open_database
from storage.samples import COLUMNS, COPY_TYPES, TABLES
from storage.server import DATABASE_URL_ENV, embedded_server
from storage.writer import SampleWriter

TARGET_RATIO = 0.7
HALLS, CAMERAS_PER_HALL = 120, 3
BASE = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)


def synthetic_samples(rows: int, *, seed: int = 7) -> list[Sample]:
    """`rows` samples of a synthetic province, in capture order, every key distinct."""
    rng = random.Random(seed)
    cameras = [(f"h{h:03d}", f"cam{c}", 1 + (h + c) % 2, 1 + (h * 7 + c) % 2)
               for h in range(HALLS) for c in range(CAMERAS_PER_HALL)]
    out: list[Sample] = []
    second = 0
    while len(out) < rows:
        for index, (hall, camera, windows, zones) in enumerate(cameras):
            ts = BASE + dt.timedelta(seconds=second, milliseconds=(index * 37) % 1000)
            for w in range(windows):
                state = rng.choices(("present", "absent", "unknown"), weights=(70, 25, 5))[0]
                out.append(DeskSample(ts, hall, f"w{camera[-1]}{w}", camera, state,
                                      ts - dt.timedelta(seconds=rng.randrange(3600)),
                                      rng.randrange(3) if state == "present" else 0))
            for z in range(zones):
                kind = "queue" if z == 0 else "self_service"
                out.append(ZoneSample(ts, hall, f"{kind[0]}{camera[-1]}{z}", camera, kind,
                                      rng.randrange(16 if kind == "queue" else 5)))
            live = rng.random() < 0.95
            out.append(HealthSample(ts, hall, camera, "live" if live else "stalled",
                                    round(rng.uniform(0.9, 1.1), 3) if live else 0.0,
                                    ts - dt.timedelta(milliseconds=rng.randrange(50, 400 if live else 9000)),
                                    rng.randrange(3), None if live else "no frame for 8.0 s"))
        second += 1
    return out[:rows]


def run_db_bench(
    *, dsn: str | None, data_dir: Path | None, rows: int = 200_000, as_json: bool, repeats: int = 5,
) -> dict[str, Any]:
    """Measure, print (a summary, or JSON with `as_json`) and return the results. `dsn` (default:
    HALLWATCH_DATABASE_URL) names a server where a scratch database may be created; without one,
    an embedded server runs in `data_dir` (default: a temporary directory)."""
    if rows < 1 or repeats < 1:
        raise HallwatchError(f"rows and repeats must be at least 1, not {rows} and {repeats}")
    samples = synthetic_samples(rows)
    tuples = _rows_by_kind(samples)
    load_before = _load()
    with ExitStack() as stack:
        db = bench_database(stack, dsn=dsn, data_dir=data_dir, pool_size=4)
        bench_dsn = db.dsn
        work_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hallwatch-bench-spool-")))
        with db.pool.connection() as conn:
            version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
        writer_runs: list[float] = []
        copy_runs: list[float] = []
        batch_size = 0
        for run in range(repeats):
            for which in (("writer", "copy") if run % 2 == 0 else ("copy", "writer")):
                _checkpoint(bench_dsn)
                if which == "writer":
                    seconds, batch_size = _time_writer(db.pool, samples, work_dir / f"spool-{run}")
                    writer_runs.append(rows / seconds)
                else:
                    copy_runs.append(rows / _time_copy(bench_dsn, tuples, rows))
    writer_rate, copy_rate = statistics.median(writer_runs), statistics.median(copy_runs)
    report: dict[str, Any] = {
        "rows": rows,
        "repeats": repeats,
        "writer_rows_per_s": round(writer_rate),
        "copy_rows_per_s": round(copy_rate),
        "ratio": round(writer_rate / copy_rate, 3),
        "target_ratio": TARGET_RATIO,
        "meets_target": writer_rate / copy_rate >= TARGET_RATIO,
        "writer_runs_rows_per_s": [round(r) for r in writer_runs],
        "copy_runs_rows_per_s": [round(r) for r in copy_runs],
        "mix": {name: sum(1 for s in samples if type(s) is kind)
                for name, kind in (("desk", DeskSample), ("zone", ZoneSample), ("health", HealthSample))},
        "writer_batch_size": batch_size,
        "copy_format": "binary",
        "database": "external" if dsn else "embedded",
        "postgres_version": version,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "psycopg": psycopg.__version__,
        "load_average_1m": load_before,
        "load_average_1m_after": _load(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    print(json.dumps(report, indent=2) if as_json else format_report(report))
    return report


def format_report(report: dict[str, Any]) -> str:
    mix = ", ".join(f"{n} {kind}" for kind, n in report["mix"].items())
    return "\n".join([
        f"database writer bench, {report['date']}: {report['rows']} rows ({mix}), median of {report['repeats']} runs",
        f"PostgreSQL {report['postgres_version']} ({report['database']}), {report['cpu_count']} CPUs, "
        f"load average {report['load_average_1m']} before, {report['load_average_1m_after']} after",
        f"  SampleWriter  {report['writer_rows_per_s']:>9,} rows/s   runs {report['writer_runs_rows_per_s']}",
        f"  raw COPY      {report['copy_rows_per_s']:>9,} rows/s   runs {report['copy_runs_rows_per_s']}",
        f"  ratio         {report['ratio']:>9.2f}          target >= {report['target_ratio']}: "
        + ("met" if report["meets_target"] else "NOT met"),
    ])


def _time_writer(pool: Any, samples: Sequence[Sample], spool_dir: Path) -> tuple[float, int]:
    """Seconds to put all samples into a fresh writer and flush it, into emptied tables."""
    with pool.connection() as conn:
        conn.execute("TRUNCATE " + ", ".join(TABLES.values()))
        conn.commit()
    writer = SampleWriter(pool, spool_dir=spool_dir, max_pending=len(samples)).start()
    try:
        started = time.perf_counter()
        writer.put(samples)
        if not writer.flush(timeout_s=600.0):
            raise DatabaseError("the sample writer did not finish within 600 s")
        seconds = time.perf_counter() - started
    finally:
        writer.close()
    if writer.written != len(samples) or writer.dropped or writer.spooled:
        raise DatabaseError(f"the sample writer stored {writer.written} of {len(samples)} samples "
                            f"({writer.dropped} dropped, {writer.spooled} spooled)")
    return seconds, writer.batch_size


def _time_copy(dsn: str, rows_by_kind: dict[type, list[tuple[Any, ...]]], rows: int) -> float:
    """Seconds for one binary COPY per table, in one transaction, into fresh tables."""
    with psycopg.connect(dsn) as conn:
        for table in TABLES.values():
            conn.execute(f"DROP TABLE IF EXISTS bench_copy_{table}")
            conn.execute(f"CREATE TABLE bench_copy_{table} (LIKE {table} INCLUDING ALL)")
        conn.commit()
        started = time.perf_counter()
        with conn.transaction(), conn.cursor() as cur:
            for kind, kind_rows in rows_by_kind.items():
                with cur.copy(f"COPY bench_copy_{TABLES[kind]} ({COLUMNS[kind]}) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(list(COPY_TYPES[kind]))
                    for row in kind_rows:
                        copy.write_row(row)
        seconds = time.perf_counter() - started
        counted = sum(conn.execute(f"SELECT count(*) FROM bench_copy_{t}").fetchone()[0]  # type: ignore[index]
                      for t in TABLES.values())
    if counted != rows:
        raise DatabaseError(f"COPY stored {counted} of {rows} rows")
    return seconds


def _rows_by_kind(samples: Sequence[Sample]) -> dict[type, list[tuple[Any, ...]]]:
    out: dict[type, list[tuple[Any, ...]]] = {}
    for sample in samples:
        out.setdefault(type(sample), []).append(tuple(getattr(sample, f.name) for f in fields(sample)))
    return out


def bench_database(stack: ExitStack, *, dsn: str | None, data_dir: Path | None, pool_size: int) -> Database:
    """A migrated scratch database for one bench run, dropped when `stack` closes: on the server
    `dsn` (or HALLWATCH_DATABASE_URL) names, else on an embedded server in `data_dir` (default: a
    temporary directory)."""
    dsn = dsn or os.environ.get(DATABASE_URL_ENV)
    work_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hallwatch-bench-")))
    server_dsn = dsn or stack.enter_context(embedded_server(data_dir or work_dir))
    bench_dsn = stack.enter_context(_scratch_database(server_dsn))
    return stack.enter_context(open_database(dsn=bench_dsn, pool_size=pool_size))


@contextmanager
def _scratch_database(server_dsn: str) -> Iterator[str]:
    name = f"hallwatch_bench_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(server_dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot create a scratch database on {redact_url(server_dsn)}: "
                            f"{redact_text(str(exc))}") from None
    try:
        yield make_conninfo(server_dsn, dbname=name)
    finally:
        with psycopg.connect(server_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _checkpoint(dsn: str) -> None:
    """Start each run with no dirty buffers left by the one before (needs superuser or
    pg_checkpoint; skipped otherwise)."""
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
    except psycopg.errors.InsufficientPrivilege:
        pass


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.db", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="samples to write (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each (default: %(default)s)")
    parser.add_argument("--data-dir", type=Path, help="embedded database location (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    args = parser.parse_args(argv)
    try:
        run_db_bench(dsn=None, data_dir=args.data_dir, rows=args.rows, as_json=args.json, repeats=args.repeats)
    except HallwatchError as exc:
        print(f"hallwatch bench db: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
