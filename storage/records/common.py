"""What every record kind shares: errors, the hall check against a user's scope, list filters and pages,
a record with its status history, masking."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from core.config.scorecards import ScorecardConfig
from core.errors import Refusal
from core.i18n import N_
from storage.auth.model import Scope, User
from storage.auth.users import find_user

# The halls' time zone when the caller names none (the default of `scorecards.timezone`): roster times are local.
HALLS_TIMEZONE = ScorecardConfig.model_fields["timezone"].default


class RecordError(Refusal):
    """A record request that breaks a rule (unknown hall, bad value, ...): `RecordError(N_("no hall '%(hall)s'"),
    hall=...)`, translated where it is shown (see `Refusal`); `field`, when given, names the input at fault
    (`hall_id`, `badge`, ...)."""


class NotFound(RecordError):
    """No such record inside the user's scope (out-of-scope records are not found, not forbidden)."""


class OutOfScope(RecordError):
    """The user named a hall or city outside their scope."""


class WorkflowError(RecordError):
    """A change the records do not allow as they stand: a status step the workflow forbids, a record that
    exists already."""


class StepForbidden(RecordError):
    """The user may not take this step of the workflow: their role, their place (the hall checks not itself) or
    their own rectification."""


def hall_city(conn: psycopg.Connection, hall_id: str) -> str | None:
    row = conn.execute("SELECT city_id FROM hall WHERE id = %s", (hall_id,)).fetchone()
    return str(row[0]) if row else None


def window_exists(conn: psycopg.Connection, hall_id: str, window_id: str) -> bool:
    return conn.execute("SELECT 1 FROM service_window WHERE hall_id = %s AND id = %s",
                        (hall_id, window_id)).fetchone() is not None


def check_hall(conn: psycopg.Connection, who: User | Scope, hall_id: str, window_id: str | None = None, *,
               field: str | None = None) -> None:
    """The hall (and window) exists and is inside the scope of `who` (a user, or a scope): OutOfScope when it
    lies outside, RecordError when there is no such hall (naming `field`, the input that named it) or window."""
    scope = who.scope if isinstance(who, User) else who
    city = hall_city(conn, hall_id)
    if city is None:
        raise RecordError(N_("no hall '%(hall)s'"), field=field, hall=hall_id)
    if not scope.allows(hall_id, city):
        raise OutOfScope(N_("hall '%(hall)s' is outside your scope %(scope)s"), hall=hall_id, scope=scope.path)
    if window_id is not None and not window_exists(conn, hall_id, window_id):
        raise RecordError(N_("hall '%(hall)s' has no window '%(window)s'"), hall=hall_id, window=window_id)


def check_filter_scope(conn: psycopg.Connection, who: User | Scope, *, hall_id: str | None = None,
                       city_id: str | None = None) -> None:
    """A list filter naming a hall or city outside the scope of `who` (a user, or a scope) is refused
    (OutOfScope) rather than silently empty."""
    scope = who.scope if isinstance(who, User) else who
    if hall_id is not None:
        city = hall_city(conn, hall_id)
        if city is not None and not scope.allows(hall_id, city):
            raise OutOfScope(N_("hall '%(hall)s' is outside your scope %(scope)s"), hall=hall_id, scope=scope.path)
    if city_id is not None and scope.kind != "province":
        if scope.kind == "city" and scope.id != city_id:
            raise OutOfScope(N_("city '%(city)s' is outside your scope %(scope)s"), city=city_id, scope=scope.path)
        if scope.kind == "hall" and hall_city(conn, scope.id or "") != city_id:
            raise OutOfScope(N_("city '%(city)s' is outside your scope %(scope)s"), city=city_id, scope=scope.path)


def equal_filters(pairs: Iterable[tuple[str, Any]]) -> tuple[list[sql.Composable], dict[str, Any]]:
    """`alias.column = %(alias_column)s` for each (`alias.column`, value) whose value is given, and the values."""
    conditions: list[sql.Composable] = []
    values: dict[str, Any] = {}
    for column, value in pairs:
        if value is not None:
            key = column.replace(".", "_")
            conditions.append(sql.SQL("{} = {}").format(sql.Identifier(*column.split(".")), sql.Placeholder(key)))
            values[key] = value if isinstance(value, bool) else str(value)
    return conditions, values


def counted_page(conn: psycopg.Connection, *, columns: sql.Composable, source: sql.Composable,
                 values: dict[str, Any], order: sql.Composable, limit: int,
                 offset: int) -> tuple[list[dict[str, Any]], int]:
    """A page of `SELECT columns source ORDER BY order` and how many rows `source` (`FROM ... WHERE ...`) has."""
    with conn.cursor(row_factory=dict_row) as cur:
        counted = cur.execute(sql.SQL("SELECT count(*) AS n{}").format(source), values).fetchone()
        assert counted is not None
        cur.execute(sql.SQL("SELECT {}{} ORDER BY {} LIMIT %(limit)s OFFSET %(offset)s").format(columns, source, order),
                    {**values, "limit": limit, "offset": offset})
        return list(cur.fetchall()), int(counted["n"])


@dataclass(frozen=True)
class StepLog:
    """The status history of one record kind: a table of (`key`, at, user_id, from_status, to_status, note),
    such as complaint_step or work_case_step."""

    table: str
    key: str

    def add(self, conn: psycopg.Connection, *, record_id: int, user_id: int | None, to_status: str,
            from_status: str | None = None, note: str = "") -> None:
        conn.execute(sql.SQL("INSERT INTO {} ({}, user_id, from_status, to_status, note) VALUES (%s, %s, %s, %s, %s)"
                             ).format(sql.Identifier(self.table), sql.Identifier(self.key)),
                     (record_id, user_id, None if from_status is None else str(from_status), str(to_status), note))

    def with_steps(self, conn: psycopg.Connection, query: sql.Composed, params: dict[str, Any], *,
                   record_id: int, missing: NotFound) -> dict[str, Any]:
        """The row `query` finds (`missing` raised when none) with its history, oldest first, as `steps`."""
        with conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(query, params).fetchone()
            if row is None:
                raise missing
            cur.execute(sql.SQL("SELECT s.at, u.name AS user_name, s.from_status, s.to_status, s.note FROM {} s"
                                " LEFT JOIN app_user u ON u.id = s.user_id WHERE s.{} = %s ORDER BY s.at, s.ctid"
                                ).format(sql.Identifier(self.table), sql.Identifier(self.key)), (record_id,))
            row["steps"] = list(cur.fetchall())
        return row


def mask_phone(phone: str) -> str:
    """`13812345678` -> `138****5678`; short numbers keep only their last two digits."""
    digits = re.sub(r"\s", "", phone)
    if not digits:
        return ""
    if len(digits) >= 7:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    return "*" * (len(digits) - 2) + digits[-2:]


def mask_name(name: str) -> str:
    """Keep the first character: `张三丰` -> `张**`, `Smith` -> `S****`."""
    name = name.strip()
    return name[:1] + "*" * (len(name) - 1) if name else ""


def reachable_user(conn: psycopg.Connection, *, name: str, hall_id: str, field: str,
                   refuse: type[RecordError] = RecordError) -> User:
    """The active user `name`, whose scope covers hall `hall_id`: someone a record of that hall may be handed to
    (an assignee, an owner) because they can see it. Otherwise `refuse`, naming the user and `field` (the input
    that named them)."""
    found = find_user(conn, name=name)
    if found is None or not found.active:
        raise refuse(N_("no active user '%(user)s'"), field=field, user=name)
    city = hall_city(conn, hall_id)
    if city is None or not found.scope.allows(hall_id, city):
        raise refuse(N_("user '%(user)s' cannot see hall '%(hall)s' (scope %(scope)s)"), field=field, user=name,
                     hall=hall_id, scope=found.scope.path)
    return found
