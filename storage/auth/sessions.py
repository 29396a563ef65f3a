"""Browser sessions, API tokens and login with lockout. Secrets are random; only their SHA-256 is
stored."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import psycopg
from psycopg.rows import dict_row

from core.config.auth import AuthConfig
from core.i18n import N_
from storage.auth.model import User
from storage.auth.passwords import verify_password
from storage.auth.users import find_user, password_hash_of, user_from_row

TOKEN_PREFIX = "hwt_"


def secret_digest(secret: str) -> str:
    """How a session or API token secret is stored and looked up: its SHA-256, hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    token: str        # the cookie value; never stored
    csrf_token: str
    user: User


class LoginRefused(Exception):
    """Wrong name or password, a disabled user, or too many recent failures (`locked`)."""

    def __init__(self, message: str, *, locked: bool = False) -> None:
        super().__init__(message)
        self.locked = locked


def login(conn: psycopg.Connection, *, name: str, password: str, client: str, config: AuthConfig) -> User:
    """The user, if the password is right and this name is not locked out for this client, nor the
    client itself. Every failure is recorded (and committed by the caller even when it raises).

    Lockout is per name *and client*: failures from one address lock that name for that address
    only, so nobody can lock a known account out everywhere by guessing at it; a client that fails
    for many names is locked as a whole. Attempts for one name or from one client are serialised by
    transaction-scoped advisory locks held until the caller commits, so parallel attempts cannot all
    pass the count before any failure is recorded."""
    for key in sorted({f"login-name:{name}", f"login-client:{client}"}):  # one order: no deadlock
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))
    since = datetime.now(UTC) - timedelta(seconds=config.failure_window_s)
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE name = %(n)s), count(*) FROM login_failure"
        " WHERE client = %(c)s AND at >= %(s)s",
        {"n": name, "c": client, "s": since}).fetchone()
    by_name, by_client = (row or (0, 0))
    # A client gets more tries in all than for one name, so a shared office address is not locked by
    # one typo-prone user.
    if by_name >= config.max_failures or by_client >= config.max_failures * 4:
        conn.execute("INSERT INTO login_failure (name, client) VALUES (%s, %s)", (name, client))
        raise LoginRefused(N_("Too many failed logins; try again later."), locked=True)
    found = password_hash_of(conn, name)
    ok = verify_password(found[1] if found else None, password)
    if not ok or found is None or not found[2]:
        conn.execute("INSERT INTO login_failure (name, client) VALUES (%s, %s)", (name, client))
        raise LoginRefused(N_("Wrong name or password."))
    conn.execute("DELETE FROM login_failure WHERE name = %s AND client = %s", (name, client))
    user = find_user(conn, user_id=found[0])
    assert user is not None
    return user


def create_session(conn: psycopg.Connection, *, user: User, config: AuthConfig) -> Session:
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    conn.execute(
        "INSERT INTO user_session (token_hash, user_id, csrf_token, expires_at) VALUES (%s, %s, %s, %s)",
        (secret_digest(token), user.id, csrf, datetime.now(UTC) + timedelta(hours=config.session_hours)))
    return Session(token=token, csrf_token=csrf, user=user)


def session_for(conn: psycopg.Connection, token: str) -> Session | None:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT u.id, u.name, u.role, u.scope, u.active, u.locale, s.csrf_token FROM user_session s"
            " JOIN app_user u ON u.id = s.user_id WHERE s.token_hash = %s AND s.expires_at > now() AND u.active",
            (secret_digest(token),))
        row = cur.fetchone()
    return Session(token=token, csrf_token=row["csrf_token"], user=user_from_row(row)) if row else None


def end_session(conn: psycopg.Connection, token: str) -> None:
    conn.execute("DELETE FROM user_session WHERE token_hash = %s", (secret_digest(token),))


def create_token(conn: psycopg.Connection, *, user: User, label: str, config: AuthConfig,
                 days: float | None = None) -> str:
    """A new bearer token for the API; shown once, stored as a hash."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        "INSERT INTO api_token (token_hash, user_id, label, expires_at) VALUES (%s, %s, %s, %s)",
        (secret_digest(token), user.id, label, datetime.now(UTC) + timedelta(days=days or config.token_days)))
    return token


def user_for_token(conn: psycopg.Connection, token: str) -> User | None:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT u.id, u.name, u.role, u.scope, u.active, u.locale"
            " FROM api_token t JOIN app_user u ON u.id = t.user_id"
            " WHERE t.token_hash = %s AND NOT t.revoked AND t.expires_at > now() AND u.active",
            (secret_digest(token),))
        row = cur.fetchone()
    return user_from_row(row) if row else None


def holders(conn: psycopg.Connection, *, sessions: Collection[str], tokens: Collection[str]
            ) -> dict[tuple[Literal["session", "token"], str], User]:
    """The current user of each session and API token, named by SHA-256 digest as stored, that still lets
    its holder in, in one query: the rules of `session_for` and `user_for_token` (unexpired, not revoked,
    user active). Keys are ("session" | "token", digest); one that lets nobody in is absent. Open live
    streams are re-checked with it."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT 'session' AS kind, s.token_hash, u.id, u.name, u.role, u.scope, u.active, u.locale"
            " FROM user_session s JOIN app_user u ON u.id = s.user_id"
            " WHERE s.token_hash = ANY(%(sessions)s) AND s.expires_at > now() AND u.active"
            " UNION ALL"
            " SELECT 'token', t.token_hash, u.id, u.name, u.role, u.scope, u.active, u.locale"
            " FROM api_token t JOIN app_user u ON u.id = t.user_id"
            " WHERE t.token_hash = ANY(%(tokens)s) AND NOT t.revoked AND t.expires_at > now() AND u.active",
            {"sessions": list(sessions), "tokens": list(tokens)})
        return {(row["kind"], row["token_hash"]): user_from_row(row) for row in cur.fetchall()}
