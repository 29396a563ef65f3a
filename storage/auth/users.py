"""Users in the database: create, find, list, disable, and their API tokens.

Administration is confined to the administrator's scope. Every function that administers users takes `by`,
the acting user: an admin, who may create users only with a scope inside their own (an admin of `city/cc`
may create `city/cc` and `hall/<a hall of cc>`, never `province` or another city; a hall admin only that
hall), and who finds, lists, disables and revokes the tokens of only the users whose scope lies inside their
own (the SQL filters by `scope_covers_sql`; a user outside it is not found, so its existence is not
revealed). `by=None` is the machine's operator: the `hallwatch users` CLI and the demo's first admin, run on
the server by whoever holds the database, and not confined to a scope."""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from core.errors import Refusal
from core.i18n import N_
from storage.auth.model import Role, Scope, User
from storage.auth.passwords import MIN_LENGTH, hash_password
from storage.auth.scope import scope_covers_sql

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_COLUMNS = "id, name, role, scope, active, locale"


class UserError(Refusal):
    """A user that cannot be created or changed as asked."""


class UserRefused(UserError):
    """The acting user may not do this: they are not an admin, or the scope asked for lies outside theirs."""


class UserNotFound(UserError):
    """No such user inside the acting admin's scope (one outside it is not revealed)."""


def user_from_row(row: dict[str, Any]) -> User:
    return User(id=row["id"], name=row["name"], role=Role(row["role"]), scope=Scope.parse(row["scope"]),
                active=row["active"], locale=row.get("locale"))


def check_scope_exists(conn: psycopg.Connection, scope: Scope) -> None:
    if scope.kind == "province":
        return
    table = "city" if scope.kind == "city" else "hall"
    if conn.execute(f"SELECT 1 FROM {table} WHERE id = %s", (scope.id,)).fetchone() is None:
        if table == "city":
            raise UserError(N_("scope %(scope)s: no city '%(city)s' in the database (run the site once first)"),
                            scope=scope.path, city=scope.id)
        raise UserError(N_("scope %(scope)s: no hall '%(hall)s' in the database (run the site once first)"),
                        scope=scope.path, hall=scope.id)


def administered_sql(by: User | None, scope_col: str = "scope") -> tuple[sql.Composable, dict[str, Any]]:
    """WHERE fragment: the users (whose scope path is in `scope_col`) that `by` administers. An admin
    administers the users inside their scope; any other role none; the operator (`None`) everyone."""
    if by is None:
        return sql.SQL("TRUE"), {}
    if by.role is not Role.admin:
        return sql.SQL("FALSE"), {}
    return scope_covers_sql(by.scope, scope_col)


def _check_grant(conn: psycopg.Connection, by: User, scope: Scope) -> None:
    """`by` may give a user `scope`: `by` is an admin (the widest role, so any role is theirs to give) and
    `scope` lies inside their own."""
    if by.role is not Role.admin:
        raise UserRefused(N_("role %(role)s may not create users"), role=by.role)
    inside, params = scope_covers_sql(by.scope, "wanted.scope")
    row = conn.execute(sql.SQL("SELECT {} FROM (SELECT %(wanted)s::text AS scope) wanted").format(inside),
                       {**params, "wanted": scope.path}).fetchone()
    if row is None or not row[0]:
        raise UserRefused(N_("scope %(scope)s is outside your scope %(yours)s"), scope=scope.path, yours=by.scope.path)


def create_user(conn: psycopg.Connection, *, name: str, role: Role, scope: Scope, password: str,
                by: User | None = None) -> User:
    """A new user. `by`: the admin creating them, whose scope must cover `scope` (UserRefused otherwise);
    None only for the machine's operator (CLI, demo), who is not confined to a scope."""
    if not NAME.match(name):
        raise UserError(N_("user name '%(user)s': use 1-64 letters, digits and . _ @ -"), user=name)
    check_scope_exists(conn, scope)
    if by is not None:
        _check_grant(conn, by, scope)
    if len(password) < MIN_LENGTH:  # as hash_password checks, refused as a UserError
        raise UserError(N_("password must have at least %(n)s characters"), n=MIN_LENGTH)
    password_hash = hash_password(password)
    with conn.cursor(row_factory=dict_row) as cur:
        try:
            with conn.transaction():  # a savepoint: a duplicate name leaves the caller's transaction usable
                cur.execute(
                    "INSERT INTO app_user (name, role, scope, password_hash) VALUES (%s, %s, %s, %s)"
                    f" RETURNING {_COLUMNS}",
                    (name, role.value, scope.path, password_hash),
                )
        except psycopg.errors.UniqueViolation:
            raise UserError(N_("user '%(user)s' exists already"), user=name) from None
        row = cur.fetchone()
    assert row is not None
    return user_from_row(row)


def find_user(conn: psycopg.Connection, *, user_id: int | None = None, name: str | None = None) -> User | None:
    """Any user, by id or name: for login and the operator's CLI. Administration goes through
    `administered_user`, which applies the admin's scope."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"SELECT {_COLUMNS} FROM app_user"
                    " WHERE (%(id)s::bigint IS NULL OR id = %(id)s) AND (%(name)s::text IS NULL OR name = %(name)s)",
                    {"id": user_id, "name": name})
        row = cur.fetchone()
    return user_from_row(row) if row else None


def administered_user(conn: psycopg.Connection, *, name: str, by: User | None) -> User:
    """The user `name` when `by` administers them; UserNotFound otherwise (outside the scope is not found)."""
    inside, params = administered_sql(by)
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql.SQL(f"SELECT {_COLUMNS} FROM app_user WHERE name = %(name)s AND {{}}").format(inside),
                    {**params, "name": name})
        row = cur.fetchone()
    if row is None:
        raise UserNotFound(N_("no user '%(user)s'"), user=name)
    return user_from_row(row)


def password_hash_of(conn: psycopg.Connection, name: str) -> tuple[int, str, bool] | None:
    row = conn.execute("SELECT id, password_hash, active FROM app_user WHERE name = %s", (name,)).fetchone()
    return (row[0], row[1], row[2]) if row else None


def list_users(conn: psycopg.Connection, *, by: User | None) -> list[User]:
    """The users `by` administers, by name."""
    inside, params = administered_sql(by)
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql.SQL(f"SELECT {_COLUMNS} FROM app_user WHERE {{}} ORDER BY name").format(inside), params)
        return [user_from_row(r) for r in cur.fetchall()]


def set_active(conn: psycopg.Connection, *, name: str, active: bool, by: User | None) -> User:
    """Enable or disable a user `by` administers (UserNotFound otherwise). A disabled user is logged out
    everywhere at once: sessions ended, tokens revoked."""
    inside, params = administered_sql(by)
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql.SQL(f"UPDATE app_user SET active = %(active)s WHERE name = %(name)s AND {{}}"
                            f" RETURNING {_COLUMNS}").format(inside), {**params, "active": active, "name": name})
        row = cur.fetchone()
    if row is None:
        raise UserNotFound(N_("no user '%(user)s'"), user=name)
    if not active:
        conn.execute("DELETE FROM user_session WHERE user_id = %s", (row["id"],))
        conn.execute("UPDATE api_token SET revoked = true WHERE user_id = %s", (row["id"],))
    return user_from_row(row)


def list_tokens(conn: psycopg.Connection, *, name: str, by: User | None) -> list[dict[str, Any]]:
    """The API tokens of a user `by` administers (UserNotFound otherwise), newest first: never the secret."""
    user = administered_user(conn, name=name, by=by)
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT id, label, created_at, expires_at, revoked, (expires_at <= now()) AS expired"
                    " FROM api_token WHERE user_id = %s ORDER BY id DESC", (user.id,))
        return list(cur.fetchall())


def revoke_tokens(conn: psycopg.Connection, *, name: str, by: User | None,
                  token_id: int | None = None) -> tuple[User, list[int]]:
    """Revoke one API token (`token_id`) or every live one of a user `by` administers (UserNotFound
    otherwise, and for a token id that is not theirs); the user and the ids revoked now."""
    user = administered_user(conn, name=name, by=by)
    if token_id is not None and conn.execute("SELECT 1 FROM api_token WHERE id = %s AND user_id = %s",
                                             (token_id, user.id)).fetchone() is None:
        raise UserNotFound(N_("user '%(user)s' has no token %(token)s"), user=name, token=token_id)
    rows = conn.execute("UPDATE api_token SET revoked = true WHERE user_id = %s AND NOT revoked"
                        " AND (%s::bigint IS NULL OR id = %s) RETURNING id", (user.id, token_id, token_id)).fetchall()
    return user, sorted(int(r[0]) for r in rows)


def count_users(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM app_user").fetchone()
    return int(row[0]) if row else 0



def set_locale(conn: psycopg.Connection, *, user: User, locale: str | None) -> User:
    """The language `user` chose for themselves (None: the site's default)."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"UPDATE app_user SET locale = %s WHERE id = %s RETURNING {_COLUMNS}", (locale, user.id))
        row = cur.fetchone()
    if row is None:
        raise UserNotFound(N_("user '%(user)s' not found"), user=user.name)
    return user_from_row(row)
