"""`hallwatch rosters import|shifts|scorecards`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.errors import HallwatchError
from hallwatch.commands import data_dir_option

LEVELS = ["window", "hall", "city", "province"]


def register(commands: argparse._SubParsersAction) -> None:
    rosters = commands.add_parser("rosters", help="officers' rosters, absences and monthly scorecards")
    sub = rosters.add_subparsers(dest="rosters_command", required=True, metavar="ROSTERS_COMMAND")

    imp = sub.add_parser("import", help="add shifts from a CSV file (see docs/rosters.md); bad rows are listed")
    imp.add_argument("file", type=Path, help="CSV with hall,window,badge,name,days,start,end[,valid_from,valid_to]")
    imp.add_argument("--site", type=Path, help="site file to mirror into the database first (so windows exist)")
    data_dir_option(imp)
    imp.set_defaults(func=cmd_rosters_import)

    shifts = sub.add_parser("shifts", help="list a hall's shifts")
    shifts.add_argument("--hall", help="hall id (default: all halls)")
    data_dir_option(shifts)
    shifts.set_defaults(func=cmd_rosters_shifts)

    cards = sub.add_parser("scorecards", help="the league table of a month")
    cards.add_argument("month", help="YYYY-MM")
    cards.add_argument("--level", choices=LEVELS, default="hall")
    cards.add_argument("--json", action="store_true", help="print JSON instead of a table")
    data_dir_option(cards)
    cards.set_defaults(func=cmd_rosters_scorecards)



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
