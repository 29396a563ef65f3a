"""`hallwatch rosters import|shifts|scorecards` and `hallwatch bench scorecards`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.errors import HallwatchError

LEVELS = ["window", "hall", "city", "province"]


def register(commands: argparse._SubParsersAction, bench_commands: argparse._SubParsersAction) -> None:
    rosters = commands.add_parser("rosters", help="officers' rosters, absences and monthly scorecards")
    sub = rosters.add_subparsers(dest="rosters_command", required=True, metavar="ROSTERS_COMMAND")

    imp = sub.add_parser("import", help="add shifts from a CSV file (see docs/rosters.md); bad rows are listed")
    imp.add_argument("file", type=Path, help="CSV with hall,window,badge,name,days,start,end[,valid_from,valid_to]")
    imp.add_argument("--site", type=Path, help="site file to mirror into the database first (so windows exist)")
    _data_dir(imp)
    imp.set_defaults(func=cmd_rosters_import)

    shifts = sub.add_parser("shifts", help="list a hall's shifts")
    shifts.add_argument("--hall", help="hall id (default: all halls)")
    _data_dir(shifts)
    shifts.set_defaults(func=cmd_rosters_shifts)

    cards = sub.add_parser("scorecards", help="the league table of a month")
    cards.add_argument("month", help="YYYY-MM")
    cards.add_argument("--level", choices=LEVELS, default="hall")
    cards.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _data_dir(cards)
    cards.set_defaults(func=cmd_rosters_scorecards)

    bench = bench_commands.add_parser("scorecards", help="time a month's scorecards over synthetic desk samples")
    bench.add_argument("--windows", type=int, default=20, help="rostered windows (default: %(default)s)")
    bench.add_argument("--days", type=int, default=30, help="days of 1 Hz samples, 08:30-17:00 (default: %(default)s)")
    bench.add_argument("--json", action="store_true")
    _data_dir(bench)
    bench.set_defaults(func=cmd_bench_scorecards)


def _data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="embedded database location; "
                                                     "ignored when HALLWATCH_DATABASE_URL is set")


def cmd_rosters_import(args: argparse.Namespace) -> int:
    from core.config import load_site
    from storage import open_database
    from storage.auth.audit import audit
    from storage.auth.model import Scope
    from storage.records.rosters import import_roster
    from storage.samples import sync_site

    try:
        text = args.file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise HallwatchError(f"{args.file}: cannot read: {exc}") from None
    with open_database(data_dir=args.data_dir) as db, db.pool.connection() as conn:
        if args.site:
            sync_site(conn, load_site(args.site))
        report = import_roster(conn, text, scope=Scope("province"))
        audit(conn, user=None, action="roster.import", subject=f"roster/{args.file.name}",
              details={"via": "cli", "shifts_added": report.shifts_added, "officers_added": report.officers_added,
                       "duplicates": report.duplicates, "bad_rows": len(report.errors)})
    for line, message in report.errors:
        print(f"{args.file}:{line}: {message}", file=sys.stderr)
    print(f"{args.file}: {report.shifts_added} shifts added, {report.duplicates} already there, "
          f"{report.officers_added} officers added, {len(report.errors)} bad rows")
    return 1 if report.errors else 0


def cmd_rosters_shifts(args: argparse.Namespace) -> int:
    from storage import open_database
    from storage.auth.model import Scope
    from storage.records.rosters import WEEKDAYS, shifts_for

    with open_database(data_dir=args.data_dir) as db, db.pool.connection() as conn:
        names: dict[int, str] = dict(conn.execute("SELECT id, badge || ' ' || name FROM officer").fetchall())
        for s in shifts_for(conn, scope=Scope("province"), hall_id=args.hall):
            when = s.on_date.isoformat() if s.on_date else WEEKDAYS[(s.weekday or 1) - 1]
            valid = f" {s.valid_from or ''}..{s.valid_to or ''}" if s.valid_from or s.valid_to else ""
            print(f"{s.id}\t{s.hall_id}/{s.window_id}\t{when}\t{s.starts:%H:%M}-{s.ends:%H:%M}{valid}\t"
                  f"{names.get(s.officer_id, s.officer_id)}")
    return 0


def cmd_rosters_scorecards(args: argparse.Namespace) -> int:
    from analytics.kpi import Level
    from core.config import ScorecardConfig
    from storage import open_database
    from storage.auth.model import Scope
    from storage.records.scorecards import Month, monthly_scorecards

    try:
        month = Month.parse(args.month)
    except ValueError as exc:
        raise HallwatchError(str(exc)) from None
    with open_database(data_dir=args.data_dir) as db, db.pool.connection() as conn:
        cards = monthly_scorecards(conn, scope=Scope("province"), month=month, config=ScorecardConfig())
    rows = cards.table(Level(args.level))
    if args.json:
        print(json.dumps([row_json(r) for r in rows], indent=1))
        return 0
    print(f"{'rank':>4}  {'unit':<24} {'score':>6} {'stars':<5} {'presence':>8} {'overtime':>8} {'errors':>6} "
          f"{'complaints':>10}")
    for r in rows:
        share = r.tally.presence.presence
        print(f"{r.rank:>4}  {unit_name(r.key):<24} {fmt(r.score.points):>6} {'*' * r.score.stars:<5} "
              f"{fmt(None if share is None else 100 * share):>8} {r.tally.overtime:>8} {r.tally.errors:>6} "
              f"{r.tally.complaints:>10}")
    return 0


def unit_name(key: object) -> str:
    return "/".join(str(k) for k in key) if isinstance(key, tuple) else str(key)


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def row_json(row: object) -> dict:
    from analytics.kpi import LeagueRow

    assert isinstance(row, LeagueRow)
    p = row.tally.presence
    return {"rank": row.rank, "unit": unit_name(row.key), "score": row.score.points, "stars": row.score.stars,
            "three_zeros": row.tally.three_zeros, "overtime": row.tally.overtime, "errors": row.tally.errors,
            "complaints": row.tally.complaints, "presence": p.presence, "rostered_s": p.rostered_s,
            "excused_s": p.excused_s, "present_s": p.present_s, "absent_s": p.absent_s, "unknown_s": p.unknown_s}


_BENCH_ROWS = [
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


def cmd_bench_scorecards(args: argparse.Namespace) -> int:
    """A month of 1 Hz desk samples for `--windows` windows rostered 08:30-17:00 daily, generated in the
    database, then the month's scorecards computed and timed (load and query separately)."""
    import tempfile
    import time

    from analytics.kpi import Level
    from core.config import ScorecardConfig
    from storage import open_database
    from storage.auth.model import Scope
    from storage.records.scorecards import Month, monthly_scorecards

    if not 1 <= args.windows <= 1000 or not 1 <= args.days <= 31:
        raise HallwatchError("--windows must be 1-1000 and --days 1-31")
    month = Month(2026, 1)
    with tempfile.TemporaryDirectory(prefix="hallwatch-bench-") as tmp, \
            open_database(data_dir=args.data_dir or Path(tmp)) as db, db.pool.connection() as conn:
        conn.execute("INSERT INTO province VALUES ('bp', 'Bench') ON CONFLICT DO NOTHING;"
                     "INSERT INTO city VALUES ('bc', 'bp', 'Bench city') ON CONFLICT DO NOTHING;"
                     "INSERT INTO hall (id, city_id, name, size, flow) VALUES ('bench', 'bc', 'Bench', 'large',"
                     " 'one_window_quick') ON CONFLICT DO NOTHING")
        conn.execute("DELETE FROM roster_shift WHERE hall_id = 'bench'")
        conn.execute("DELETE FROM desk_sample WHERE hall_id = 'bench'")
        started = time.perf_counter()
        for statement in _BENCH_ROWS:
            conn.execute(statement, {"n": args.windows, "days": args.days})
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
    result = {"windows": args.windows, "days": args.days, "samples": samples, "load_s": round(loaded, 2),
              "scorecards_s": round(best, 3), "samples_per_s": round(samples / best)}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{samples} desk samples ({args.windows} windows x {args.days} days, 1 Hz, 08:30-17:00) loaded in "
              f"{loaded:.1f} s; month scorecards in {best:.2f} s (best of 3) = {result['samples_per_s']} samples/s")
    return 0
