"""`hallwatch reports send|make`: monthly reports from the command line (docs/reports.md).

`send` announces a month's reports through the notification channels of the site file (run it from cron on the
first of the month); `make` writes one report as a file, as a given user sees it (their scope and the covert
rule apply, as on the web)."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime
from pathlib import Path

from core.errors import HallwatchError
from hallwatch.commands import data_dir_option


def _month(text: str) -> str:
    from storage.records.scorecards import Month

    try:
        if not re.fullmatch(r"\d{4}-\d{2}", text):
            raise ValueError("use YYYY-MM")
        Month.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None
    return text


def register(commands: argparse._SubParsersAction) -> None:
    reports = commands.add_parser("reports", help="monthly reports per hall, city and province (PDF, Excel)")
    sub = reports.add_subparsers(dest="reports_command", required=True, metavar="REPORTS_COMMAND")

    send = sub.add_parser("send", help="announce a month's reports through the notification channels, with "
                                       "download links")
    send.add_argument("--site", type=Path, required=True, help="the site file (its `notify:` channels)")
    send.add_argument("--month", type=_month, help="YYYY-MM (default: last month, in the site's time zone)")
    send.add_argument("--channel", action="append", dest="channels", metavar="ID",
                      help="only this channel (repeatable; default: every enabled channel that carries all alerts)")
    data_dir_option(send)
    send.set_defaults(func=cmd_reports_send)

    make = sub.add_parser("make", help="write one monthly report as PDF, Excel or JSON, as a user sees it")
    make.add_argument("--site", type=Path, required=True)
    make.add_argument("--as", dest="user", required=True, help="the user whose scope and rights apply")
    make.add_argument("--month", type=_month, help="YYYY-MM (default: this month so far)")
    make.add_argument("--unit", help="province, city/<id> or hall/<id> (default: the user's scope)")
    make.add_argument("--format", choices=["pdf", "xlsx", "json"], default="pdf")
    make.add_argument("--lang", choices=["zh_CN", "en"], help="default: the user's language, else the site's")
    make.add_argument("--out", type=Path, required=True, help="the file to write")
    data_dir_option(make)
    make.set_defaults(func=cmd_reports_make)


def cmd_reports_send(args: argparse.Namespace) -> int:
    from core.config import load_site
    from monitor.reports.send import previous_month, send_reports
    from storage import open_database
    from storage.records.scorecards import Month
    from storage.samples import sync_site

    site = load_site(args.site)
    month = Month.parse(args.month) if args.month else previous_month(site, datetime.now(UTC))
    with open_database(data_dir=args.data_dir) as db, db.pool.connection() as conn:
        sync_site(conn, site)
        deliveries = send_reports(conn, site, month=month, channels=args.channels)
    for d in deliveries:
        print(f"{month} {d.unit} -> {d.channel_id}: {'sent' if d.error is None else 'FAILED: ' + d.error}")
    if not deliveries:
        print("no channel to send to: name one with --channel, or see notify.channels in the site file")
    return 1 if any(d.error for d in deliveries) or not deliveries else 0


def cmd_reports_make(args: argparse.Namespace) -> int:
    from core.config import load_site
    from monitor.api import month_or_now
    from monitor.reports.data import build_report, unit_of
    from monitor.reports.excel import render_xlsx
    from monitor.reports.pdf import render_pdf
    from storage import open_database
    from storage.auth.audit import audit
    from storage.auth.users import find_user
    from storage.samples import sync_site

    site = load_site(args.site)
    with open_database(data_dir=args.data_dir) as db, db.pool.connection() as conn:
        sync_site(conn, site)
        user = find_user(conn, name=args.user)
        if user is None or not user.active:
            raise HallwatchError(f"no active user {args.user!r}")
        month = month_or_now(site, args.month)
        report = build_report(conn, site, user, month=month, unit=unit_of(conn, site, user, args.unit))
        audit(conn, user=user, action="report.make", subject=f"report/{report.level}"
              f"{'/' + report.unit_id if report.unit_id else ''}/{report.month}", details={"via": "cli"})
    locale = args.lang or user.locale or site.province.locale
    if args.format == "json":
        body = report.model_dump_json(indent=2).encode()
    else:
        body = render_pdf(report, locale) if args.format == "pdf" else render_xlsx(report, locale)
    try:
        args.out.write_bytes(body)
    except OSError as exc:
        raise HallwatchError(f"{args.out}: cannot write: {exc}") from None
    print(f"{args.out}: {report.name}, {report.month} ({args.format}, {len(body)} bytes)")
    return 0
