"""`hallwatch records import-complaints FILE.csv --as USER`: load a hotline export from the server."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.errors import HallwatchError
from hallwatch.commands import data_dir_option


def register(commands: argparse._SubParsersAction) -> None:
    records = commands.add_parser("records", help="supervision records (complaints, inspections)")
    sub = records.add_subparsers(dest="records_command", required=True, metavar="RECORDS_COMMAND")
    imp = sub.add_parser("import-complaints", help="import complaints from a hotline CSV export")
    imp.add_argument("file", type=Path)
    imp.add_argument("--as", dest="user", required=True, help="the user the complaints are registered by "
                                                              "(their scope limits the halls)")
    data_dir_option(imp)
    imp.set_defaults(func=cmd_import_complaints)


def cmd_import_complaints(args: argparse.Namespace) -> int:
    from core.config.auth import RecordsConfig
    from storage import open_database
    from storage.auth.users import find_user
    from storage.records.complaints import import_complaints_csv

    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HallwatchError(f"{args.file}: cannot read a UTF-8 CSV: {exc}") from None
    with open_database(data_dir=args.data_dir) as db, db.pool.connection() as conn:
        user = find_user(conn, name=args.user)
        if user is None or not user.active:
            raise HallwatchError(f"no active user {args.user!r}")
        report = import_complaints_csv(conn, user=user, text=text, config=RecordsConfig())
    for line, error in report.errors:
        print(f"{args.file}:{line}: {error}")
    print(f"{args.file}: imported {len(report.imported)}, duplicates {len(report.duplicates)}, "
          f"bad rows {len(report.errors)}")
    return 1 if report.errors else 0
