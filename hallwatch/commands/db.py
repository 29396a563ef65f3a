"""`hallwatch db migrate | backup | restore`: the database's schema and its copies."""

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
