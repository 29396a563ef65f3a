"""`hallwatch db migrate | backup | restore | prune`: the database's schema, its copies and its retention."""

from __future__ import annotations

import argparse
from pathlib import Path

from hallwatch.commands import data_dir_option


def register(commands: argparse._SubParsersAction) -> None:
    db = commands.add_parser("db", help="database administration")
    sub = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")

    migrate = sub.add_parser("migrate", help="apply pending migrations")
    data_dir_option(migrate)
    migrate.set_defaults(func=cmd_db_migrate)

    backup = sub.add_parser("backup", help="write the whole database to a file (pg_dump custom format)")
    backup.add_argument("file", type=Path)
    data_dir_option(backup)
    backup.set_defaults(func=cmd_db_backup)

    restore = sub.add_parser("restore", help="replace the database with a backup (stop the service first)")
    restore.add_argument("file", type=Path)
    data_dir_option(restore)
    restore.set_defaults(func=cmd_db_restore)

    prune = sub.add_parser("prune", help="apply the retention once: drop old samples, make partitions ahead "
                                         "(docs/operations.md)")
    prune.add_argument("--site", type=Path, help="site file whose `retention:` applies (default: the defaults)")
    data_dir_option(prune)
    prune.set_defaults(func=cmd_db_prune)


def cmd_db_migrate(args: argparse.Namespace) -> int:
    from storage import open_database
    from storage.migrate import apply_migrations

    with open_database(data_dir=args.data_dir, migrate=False) as db:
        applied = apply_migrations(db.migration_dsn)
        print(f"{db.safe_dsn}: " + (", ".join(f"applied {m.version:03d}_{m.name}" for m in applied)
                                   or "up to date"))
    return 0


def cmd_db_backup(args: argparse.Namespace) -> int:
    from storage import open_database
    from storage.backup import backup

    with open_database(data_dir=args.data_dir) as db:
        path = backup(db.migration_dsn, args.file)
    print(f"backup written: {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def cmd_db_restore(args: argparse.Namespace) -> int:
    from storage import open_database
    from storage.backup import restore
    from storage.migrate import apply_migrations

    with open_database(data_dir=args.data_dir, migrate=False, pool_size=1) as db:
        db.pool.close()  # the restore drops tables: no connection of ours may hold them
        restore(db.migration_dsn, args.file)
        applied = apply_migrations(db.migration_dsn)  # a backup of an older version comes up to date
    print(f"restored {args.file}" + (f"; applied {len(applied)} newer migrations" if applied else ""))
    return 0


def cmd_db_prune(args: argparse.Namespace) -> int:
    import psycopg

    from core.config import RetentionConfig, load_site
    from storage import open_database
    from storage.retention import apply_retention

    config = load_site(args.site).retention if args.site else RetentionConfig()
    with open_database(data_dir=args.data_dir, pool_size=1) as db, \
            psycopg.connect(db.migration_dsn, autocommit=True) as conn:
        report = apply_retention(conn, config)
    rows = sum(n or 0 for n in report.partitions_dropped.values()) + sum(report.rows_deleted.values())
    print(f"{db.safe_dsn} ({report.mode}): {len(report.partitions_dropped)} partitions or chunks dropped, "
          f"about {rows:,} rows deleted, {len(report.evidence_deleted)} evidence items deleted, "
          f"{len(report.partitions_made)} partitions made, {len(report.policies)} policies set"
          + (f"; busy, left for the next run: {', '.join(report.skipped)}" if report.skipped else ""))
    return 0
