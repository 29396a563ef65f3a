"""What every record kind shares: errors, the hall check against a user's scope, masking."""

from __future__ import annotations

import re

import psycopg

from hallwatch.auth.model import User
from hallwatch.errors import HallwatchError


class RecordError(HallwatchError):
    """A record request that breaks a rule (unknown hall, bad transition, ...)."""


class NotFound(RecordError):
    """No such record inside the user's scope (out-of-scope records are not found, not forbidden)."""


class OutOfScope(RecordError):
    """The user named a hall or city outside their scope."""


class WorkflowError(RecordError):
    """A status change the workflow does not allow."""


def hall_city(conn: psycopg.Connection, hall_id: str) -> str | None:
    row = conn.execute("SELECT city_id FROM hall WHERE id = %s", (hall_id,)).fetchone()
    return str(row[0]) if row else None


def check_hall(conn: psycopg.Connection, user: User, hall_id: str, window_id: str | None = None) -> None:
    """The hall (and window) exists and is inside the user's scope."""
    city = hall_city(conn, hall_id)
    if city is None:
        raise RecordError(f"no hall {hall_id!r}")
    if not user.scope.allows(hall_id, city):
        raise OutOfScope(f"hall {hall_id!r} is outside your scope {user.scope.path}")
    if window_id is not None and conn.execute(
            "SELECT 1 FROM service_window WHERE hall_id = %s AND id = %s", (hall_id, window_id)).fetchone() is None:
        raise RecordError(f"hall {hall_id!r} has no window {window_id!r}")


def check_filter_scope(conn: psycopg.Connection, user: User, *, hall_id: str | None = None,
                       city_id: str | None = None) -> None:
    """A list filter naming a hall or city outside the scope is refused rather than silently empty."""
    if hall_id is not None:
        city = hall_city(conn, hall_id)
        if city is not None and not user.scope.allows(hall_id, city):
            raise OutOfScope(f"hall {hall_id!r} is outside your scope {user.scope.path}")
    if city_id is not None and user.scope.kind != "province":
        if user.scope.kind == "city" and user.scope.id != city_id:
            raise OutOfScope(f"city {city_id!r} is outside your scope {user.scope.path}")
        if user.scope.kind == "hall" and hall_city(conn, user.scope.id or "") != city_id:
            raise OutOfScope(f"city {city_id!r} is outside your scope {user.scope.path}")


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
