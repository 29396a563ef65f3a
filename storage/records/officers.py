"""Officers who staff the windows: name, badge number, their hall, and an optional photo stored like
evidence (the bytes with their sha256, type and size checked on upload, the hash checked on every read)."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from core.errors import HallwatchError
from storage.auth.model import Scope
from storage.auth.scope import scope_sql

PHOTO_MAX_BYTES = 2 * 1024 * 1024
_MAGIC = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}
_COLUMNS = "o.id, o.hall_id, o.badge, o.name, o.active, o.created_at, (p.officer_id IS NOT NULL) AS has_photo"


class OfficerError(HallwatchError):
    """A request about officers that cannot be carried out; `field` names the offending input."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class PhotoError(OfficerError):
    """A photo that is not a JPEG or PNG image, too large, or whose stored bytes no longer match the hash."""


@dataclass(frozen=True)
class Photo:
    content_type: str
    sha256: str
    data: bytes


def check_photo(data: bytes) -> Photo:
    """The photo with its type and hash, or PhotoError: JPEG or PNG only, at most 2 MiB, and decodable."""
    if not data:
        raise PhotoError("the photo is empty", field="photo")
    if len(data) > PHOTO_MAX_BYTES:
        raise PhotoError(f"the photo is {len(data)} bytes, more than {PHOTO_MAX_BYTES}", field="photo")
    content_type = next((kind for magic, kind in _MAGIC.items() if data.startswith(magic)), None)
    if content_type is None:
        raise PhotoError("the photo must be a JPEG or PNG image", field="photo")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise PhotoError(f"the photo is not a readable image: {exc}", field="photo") from None
    return Photo(content_type, hashlib.sha256(data).hexdigest(), data)


def create_officer(conn: psycopg.Connection, *, hall_id: str, badge: str, name: str) -> int:
    try:
        with conn.transaction():
            row = conn.execute("INSERT INTO officer (hall_id, badge, name) VALUES (%s, %s, %s) RETURNING id",
                               (hall_id, badge, name)).fetchone()
    except psycopg.errors.UniqueViolation:
        raise OfficerError(f"badge {badge!r} is already in use", field="badge") from None
    except psycopg.errors.ForeignKeyViolation:
        raise OfficerError(f"no hall {hall_id!r}", field="hall_id") from None
    except psycopg.errors.CheckViolation as exc:
        field = "badge" if "badge" in str(exc) else "name"
        raise OfficerError(f"invalid {field}", field=field) from None
    assert row is not None
    return int(row[0])


def update_officer(conn: psycopg.Connection, officer_id: int, *, name: str | None = None,
                   active: bool | None = None) -> bool:
    cur = conn.execute("UPDATE officer SET name = coalesce(%s, name), active = coalesce(%s, active) WHERE id = %s",
                       (name, active, officer_id))
    return cur.rowcount == 1


def get_officer(conn: psycopg.Connection, officer_id: int) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"SELECT {_COLUMNS} FROM officer o LEFT JOIN officer_photo p ON p.officer_id = o.id"
                           " WHERE o.id = %s", (officer_id,)).fetchone()


def officers_by_badge(conn: psycopg.Connection, badges: list[str]) -> dict[str, dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("SELECT id, hall_id, badge, name, active FROM officer WHERE badge = ANY(%s)", (badges,))
        return {r["badge"]: r for r in rows}


def list_officers(conn: psycopg.Connection, *, scope: Scope, hall_id: str | None = None, q: str | None = None,
                  active: bool | None = None, limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Officers inside `scope`, filtered, by hall and name; with the total count before paging."""
    in_scope, params = scope_sql(scope, "o.hall_id")
    where = sql.SQL(" AND ").join([
        in_scope,
        sql.SQL("(%(hall)s::text IS NULL OR o.hall_id = %(hall)s)"),
        sql.SQL("(%(q)s::text IS NULL OR o.name ILIKE %(like)s OR o.badge ILIKE %(like)s)"),
        sql.SQL("(%(active)s::boolean IS NULL OR o.active = %(active)s)"),
    ])
    params |= {"hall": hall_id, "q": q, "like": f"%{q}%" if q else None, "active": active,
               "limit": limit, "offset": offset}
    with conn.cursor(row_factory=dict_row) as cur:
        total = cur.execute(sql.SQL("SELECT count(*) AS n FROM officer o WHERE {}").format(where), params).fetchone()
        rows = cur.execute(sql.SQL(
            "SELECT " + _COLUMNS + " FROM officer o LEFT JOIN officer_photo p ON p.officer_id = o.id WHERE {}"
            " ORDER BY o.hall_id, o.name, o.id LIMIT %(limit)s OFFSET %(offset)s").format(where), params).fetchall()
    assert total is not None
    return rows, int(total["n"])


def set_photo(conn: psycopg.Connection, officer_id: int, photo: Photo) -> None:
    conn.execute(
        "INSERT INTO officer_photo (officer_id, content_type, size, sha256, data) VALUES (%s, %s, %s, %s, %s)"
        " ON CONFLICT (officer_id) DO UPDATE SET content_type = excluded.content_type, size = excluded.size,"
        " sha256 = excluded.sha256, data = excluded.data, uploaded_at = now()",
        (officer_id, photo.content_type, len(photo.data), photo.sha256, photo.data),
    )


def read_photo(conn: psycopg.Connection, officer_id: int) -> Photo | None:
    """The stored photo, after checking its bytes against the stored hash (PhotoError when they differ)."""
    row = conn.execute("SELECT content_type, sha256, data FROM officer_photo WHERE officer_id = %s",
                       (officer_id,)).fetchone()
    if row is None:
        return None
    content_type, sha256, data = row[0], row[1], bytes(row[2])
    if hashlib.sha256(data).hexdigest() != sha256:
        raise PhotoError(f"officer {officer_id}: stored photo does not match its sha256")
    return Photo(content_type, sha256, data)
