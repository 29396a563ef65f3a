"""`hallwatch bench scorecards`: a month's scorecards over synthetic desk samples."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from analytics.kpi import Level
from core.config import ScorecardConfig
from core.errors import HallwatchError
from storage import open_database
from storage.auth.model import Scope
from storage.records.scorecards import Month, monthly_scorecards

BENCH_ROWS = [
    "INSERT INTO service_window (hall_id, id, name) SELECT 'bench', 'w' || i, 'Window ' || i"
    " FROM generate_series(1, %(n)s) i ON CONFLICT DO NOTHING",
    "INSERT INTO officer (hall_id, badge, name) SELECT 'bench', 'BENCH' || i, 'Officer ' || i"
    " FROM generate_series(1, %(n)s) i ON CONFLICT DO NOTHING",
    "INSERT INTO roster_shift (hall_id, window_id, officer_id, weekday, starts, ends)"
    " SELECT 'bench', 'w' || i, o.id, d, '08:30', '17:00' FROM generate_series(1, %(n)s) i"
    " JOIN officer o ON o.badge = 'BENCH' || i CROSS JOIN generate_series(1, 7) d",
    "INSERT INTO desk_sample (ts, hall_id, window_id, camera_id, state, state_since, people)"
    " SELECT t, 'bench', 'w' || i, 'cam', CASE WHEN random() < 0.9 THEN 'present' ELSE 'absent' END, t, 1"
    " FROM generate_series(1, %(n)s) i, generate_series(0, %(days)s - 1) day,"
    " generate_series(timestamptz '2026-01-01 08:30+08' + day * interval '1 day',"
    "                 timestamptz '2026-01-01 17:00+08' + day * interval '1 day', interval '1 second') t",
]


def run_scorecards_bench(*, data_dir: Path | None, windows: int, days: int, as_json: bool) -> None:
    """A month of 1 Hz desk samples for `windows` windows rostered 08:30-17:00 daily, generated in the
    database, then the month's scorecards computed and timed (load and query separately)."""
    if not 1 <= windows <= 1000 or not 1 <= days <= 31:
        raise HallwatchError("--windows must be 1-1000 and --days 1-31")
    month = Month(2026, 1)
    with tempfile.TemporaryDirectory(prefix="hallwatch-bench-") as tmp, \
            open_database(data_dir=data_dir or Path(tmp)) as db, db.pool.connection() as conn:
        conn.execute("INSERT INTO province VALUES ('bp', 'Bench') ON CONFLICT DO NOTHING;"
                     "INSERT INTO city VALUES ('bc', 'bp', 'Bench city') ON CONFLICT DO NOTHING;"
                     "INSERT INTO hall (id, city_id, name, size, flow) VALUES ('bench', 'bc', 'Bench', 'large',"
                     " 'one_window_quick') ON CONFLICT DO NOTHING")
        conn.execute("DELETE FROM roster_shift WHERE hall_id = 'bench'")
        conn.execute("DELETE FROM desk_sample WHERE hall_id = 'bench'")
        started = time.perf_counter()
        for statement in BENCH_ROWS:
            conn.execute(statement, {"n": windows, "days": days})
        conn.commit()
        conn.execute("ANALYZE desk_sample")
        loaded = time.perf_counter() - started
        rows = conn.execute("SELECT count(*) FROM desk_sample WHERE hall_id = 'bench'").fetchone()
        samples = int(rows[0]) if rows else 0
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            cards = monthly_scorecards(conn, scope=Scope("hall", "bench"), month=month, config=ScorecardConfig())
            cards.table(Level.window)
            timings.append(time.perf_counter() - started)
    best = min(timings)
    result = {"windows": windows, "days": days, "samples": samples, "load_s": round(loaded, 2),
              "scorecards_s": round(best, 3), "samples_per_s": round(samples / best)}
    if as_json:
        print(json.dumps(result))
    else:
        print(f"{samples} desk samples ({windows} windows x {days} days, 1 Hz, 08:30-17:00) loaded in "
              f"{loaded:.1f} s; month scorecards in {best:.2f} s (best of 3) = {result['samples_per_s']} samples/s")
