"""Users in the database: create, find, list, disable."""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg.rows import dict_row

from core.errors import HallwatchError
from storage.auth.model import Role, Scope, User
from storage.auth.passwords import hash_password

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class UserError(HallwatchError):
    """A user that cannot be created or changed as asked."""


def user_from_row(row: dict[str, Any]) -> User:
    return User(id=row["id"], name=row["name"], role=Role(row["role"]), scope=Scope.parse(row["scope"]),
                active=row["active"])


def check_scope_exists(conn: psycopg.Connection, scope: Scope) -> None:
    if scope.kind == "province":
        return
    table = "city" if scope.kind == "city" else "hall"
    if conn.execute(f"SELECT 1 FROM {table} WHERE id = %s", (scope.id,)).fetchone() is None:
        raise UserError(f"scope {scope.path}: no {table} {scope.id!r} in the database (run the site once first)")


def create_user(conn: psycopg.Connection, *, name: str, role: Role, scope: Scope, password: str) -> User:
    if not NAME.match(name):
        raise UserError(f"user name {name!r}: use 1-64 letters, digits and . _ @ -")
    check_scope_exists(conn, scope)
    try:
        password_hash = hash_password(password)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    with conn.cursor(row_factory=dict_row) as cur:
        try:
            with conn.transaction():  # a savepoint: a duplicate name leaves the caller's transaction usable
                cur.execute(
                    "INSERT INTO app_user (name, role, scope, password_hash) VALUES (%s, %s, %s, %s)"
                    " RETURNING id, name, role, scope, active",
                    (name, role.value, scope.path, password_hash),
                )
        except psycopg.errors.UniqueViolation:
            raise UserError(f"user {name!r} exists already") from None
        row = cur.fetchone()
    assert row is not None
    return user_from_row(row)


def find_user(conn: psycopg.Connection, *, user_id: int | None = None, name: str | None = None) -> User | None:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT id, name, role, scope, active FROM app_user"
                    " WHERE (%(id)s::bigint IS NULL OR id = %(id)s) AND (%(name)s::text IS NULL OR name = %(name)s)",
                    {"id": user_id, "name": name})
        row = cur.fetchone()
    return user_from_row(row) if row else None


def password_hash_of(conn: psycopg.Connection, name: str) -> tuple[int, str, bool] | None:
    row = conn.execute("SELECT id, password_hash, active FROM app_user WHERE name = %s", (name,)).fetchone()
    return (row[0], row[1], row[2]) if row else None


def list_users(conn: psycopg.Connection) -> list[User]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT id, name, role, scope, active FROM app_user ORDER BY name")
        return [user_from_row(r) for r in cur.fetchall()]


def set_active(conn: psycopg.Connection, *, name: str, active: bool) -> User:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("UPDATE app_user SET active = %s WHERE name = %s RETURNING id, name, role, scope, active",
                    (active, name))
        row = cur.fetchone()
    if row is None:
        raise UserError(f"no user {name!r}")
    if not active:  # a disabled user is logged out everywhere at once
        conn.execute("DELETE FROM user_session WHERE user_id = %s", (row["id"],))
        conn.execute("UPDATE api_token SET revoked = true WHERE user_id = %s", (row["id"],))
    return user_from_row(row)


def count_users(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM app_user").fetchone()
    return int(row[0]) if row else 0
