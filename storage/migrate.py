"""Numbered SQL migrations (`migrations/NNN_name.sql`), each applied once in its own transaction
and recorded in `schema_migration`, then the service role's grants (`grants.sql`). They run as the
owner of the tables. An advisory lock keeps concurrent starters from racing."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources

import psycopg
from psycopg import errors, sql
from psycopg_pool import ConnectionPool

from core.errors import DatabaseError

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x68616C6C  # "hall"; advisory locks are per database, roles are per cluster
APP_ROLE = "hallwatch_app"  # what the service may do (grants.sql); its login is a member


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations() -> list[Migration]:
    found = []
    for entry in resources.files("storage").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise DatabaseError(f"two migrations share a number: {versions}")
    return found


def apply_migrations(owner: ConnectionPool | str, *, upto: int | None = None) -> list[Migration]:
    """Apply what is missing (up to version `upto`, default all) as the owner (a pool or a DSN of
    the owner's role), then the service's grants; returns the migrations applied now, empty when
    up to date."""
    if isinstance(owner, str):
        with psycopg.connect(owner) as conn:
            return _apply(conn, upto)
    with owner.connection() as conn:
        return _apply(conn, upto)


def _apply(conn: psycopg.Connection, upto: int | None) -> list[Migration]:
    applied_now = []
    conn.autocommit = True  # each migration is its own explicit transaction below
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migration ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migration")}
        for migration in available_migrations():
            if migration.version in done or (upto is not None and migration.version > upto):
                continue
            log.info("applying migration %03d_%s", migration.version, migration.name)
            try:
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migration (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name),
                    )
            except Exception as exc:
                raise DatabaseError(
                    f"migration {migration.version:03d}_{migration.name} failed: {exc}"
                ) from None
            applied_now.append(migration)
        conn.execute(resources.files("storage").joinpath("grants.sql").read_text(encoding="utf-8").encode())
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
        conn.autocommit = False
    return applied_now


def ensure_role(conn: psycopg.Connection, name: str, attributes: str = "NOLOGIN") -> None:
    """Create the role `name` with `attributes` unless it exists. Roles belong to the whole cluster, so
    two databases of one cluster set up at once (two sites, two test workers) may both find it missing;
    the later CREATE then fails on the role's unique name, and the role is there, as wanted (migration
    010 and grants.sql do the same in SQL)."""
    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
        return
    try:
        with conn.transaction():
            conn.execute(sql.SQL("CREATE ROLE {} ").format(sql.Identifier(name)) + sql.SQL(attributes))
    except (errors.DuplicateObject, errors.UniqueViolation):
        pass
