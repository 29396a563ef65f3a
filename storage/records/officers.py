"""Officers who staff the windows: name, badge number, their hall, and an optional photo stored like
evidence (the bytes with their sha256, type and size checked on upload, the hash checked on every read).

A user's requests go through the functions that take their `scope` (`officer_in_scope`, `register_officer`,
`update_officer`, `store_photo`, `photo_in_scope`, `list_officers`): an officer of a hall outside it is not
found, a hall named outside it is refused. `create_officer`, `get_officer`, `set_photo` and `read_photo` are
their building blocks, for callers acting for nobody in particular (the CLI, the roster import, seeding)."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from core.i18n import N_
from storage.auth.model import Scope
from storage.auth.scope import scope_sql
from storage.records.common import NotFound, RecordError, check_filter_scope, check_hall

PHOTO_MAX_BYTES = 2 * 1024 * 1024
_MAGIC = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}
_COLUMNS = "o.id, o.hall_id, o.badge, o.name, o.active, o.created_at, (p.officer_id IS NOT NULL) AS has_photo"


class OfficerError(RecordError):
    """A request about officers that cannot be carried out; `field` names the offending input."""


class PhotoError(OfficerError):
    """A photo that is not a JPEG or PNG image, too large, or whose stored bytes no longer match the hash."""


class PhotoCorrupt(PhotoError):
    """The stored photo's bytes no longer match its sha256."""


@dataclass(frozen=True)
class Photo:
    content_type: str
    sha256: str
    data: bytes


def check_photo(data: bytes) -> Photo:
    """The photo with its type and hash, or PhotoError: JPEG or PNG only, at most 2 MiB, and decodable."""
    if not data:
        raise PhotoError(N_("the photo is empty"), field="photo")
    if len(data) > PHOTO_MAX_BYTES:
        raise PhotoError(N_("the photo is %(size)s bytes, more than %(limit)s"), field="photo", size=len(data),
                         limit=PHOTO_MAX_BYTES)
    content_type = next((kind for magic, kind in _MAGIC.items() if data.startswith(magic)), None)
    if content_type is None:
        raise PhotoError(N_("the photo must be a JPEG or PNG image"), field="photo")
    from PIL import JpegImagePlugin, PngImagePlugin, UnidentifiedImageError

    # The decoder of the type the magic bytes name, not PIL.Image.open: once Ultralytics is imported in
    # the process it patches Image.open to install packages on an unidentified image.
    decoder = JpegImagePlugin.JpegImageFile if content_type == "image/jpeg" else PngImagePlugin.PngImageFile
    try:
        with decoder(io.BytesIO(data)) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, TypeError) as exc:
        raise PhotoError(N_("the photo is not a readable image: %(reason)s"), field="photo", reason=str(exc)) from None
    return Photo(content_type, hashlib.sha256(data).hexdigest(), data)


def create_officer(conn: psycopg.Connection, *, hall_id: str, badge: str, name: str) -> int:
    try:
        with conn.transaction():
            row = conn.execute("INSERT INTO officer (hall_id, badge, name) VALUES (%s, %s, %s) RETURNING id",
                               (hall_id, badge, name)).fetchone()
    except psycopg.errors.UniqueViolation:
        raise OfficerError(N_("badge '%(badge)s' is already in use"), field="badge", badge=badge) from None
    except psycopg.errors.ForeignKeyViolation:
        raise OfficerError(N_("no hall '%(hall)s'"), field="hall_id", hall=hall_id) from None
    except psycopg.errors.CheckViolation as exc:
        if "badge" in str(exc):
            raise OfficerError(N_("invalid badge"), field="badge") from None
        raise OfficerError(N_("invalid name"), field="name") from None
    assert row is not None
    return int(row[0])


def register_officer(conn: psycopg.Connection, *, scope: Scope, hall_id: str, badge: str, name: str) -> int:
    """A new officer of a hall inside `scope` (OutOfScope otherwise; an unknown hall is an error about `hall_id`)."""
    check_hall(conn, scope, hall_id, field="hall_id")
    return create_officer(conn, hall_id=hall_id, badge=badge, name=name)


def update_officer(conn: psycopg.Connection, *, scope: Scope, officer_id: int, name: str | None = None,
                   active: bool | None = None) -> None:
    """Rename or (de)activate an officer of a hall inside `scope`; NotFound otherwise."""
    in_scope, params = scope_sql(scope, "hall_id")
    cur = conn.execute(sql.SQL("UPDATE officer SET name = coalesce(%(name)s, name),"
                               " active = coalesce(%(active)s, active) WHERE id = %(id)s AND {}").format(in_scope),
                       {**params, "name": name, "active": active, "id": officer_id})
    if cur.rowcount != 1:
        raise NotFound(N_("no officer %(officer)s inside your scope"), officer=officer_id)


def get_officer(conn: psycopg.Connection, officer_id: int) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"SELECT {_COLUMNS} FROM officer o LEFT JOIN officer_photo p ON p.officer_id = o.id"
                           " WHERE o.id = %s", (officer_id,)).fetchone()


def officer_in_scope(conn: psycopg.Connection, *, scope: Scope, officer_id: int) -> dict[str, Any]:
    """The officer, when their hall is inside `scope`; NotFound otherwise (outside the scope is not found)."""
    in_scope, params = scope_sql(scope, "o.hall_id")
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(sql.SQL("SELECT " + _COLUMNS + " FROM officer o LEFT JOIN officer_photo p"
                                  " ON p.officer_id = o.id WHERE o.id = %(id)s AND {}").format(in_scope),
                          {**params, "id": officer_id}).fetchone()
    if row is None:
        raise NotFound(N_("no officer %(officer)s inside your scope"), officer=officer_id)
    return row


def officers_by_badge(conn: psycopg.Connection, badges: list[str]) -> dict[str, dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("SELECT id, hall_id, badge, name, active FROM officer WHERE badge = ANY(%s)", (badges,))
        return {r["badge"]: r for r in rows}


def list_officers(conn: psycopg.Connection, *, scope: Scope, hall_id: str | None = None, q: str | None = None,
                  active: bool | None = None, limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Officers inside `scope`, filtered, by hall and name; with the total count before paging. A `hall_id`
    outside `scope` is refused (OutOfScope)."""
    check_filter_scope(conn, scope, hall_id=hall_id)
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


def store_photo(conn: psycopg.Connection, *, scope: Scope, officer_id: int, data: bytes) -> Photo:
    """Check `data` (PhotoError) and store it as the photo of an officer inside `scope` (NotFound otherwise)."""
    officer_in_scope(conn, scope=scope, officer_id=officer_id)
    photo = check_photo(data)
    set_photo(conn, officer_id, photo)
    return photo


def read_photo(conn: psycopg.Connection, officer_id: int) -> Photo | None:
    """The stored photo, after checking its bytes against the stored hash (PhotoCorrupt when they differ)."""
    row = conn.execute("SELECT content_type, sha256, data FROM officer_photo WHERE officer_id = %s",
                       (officer_id,)).fetchone()
    if row is None:
        return None
    content_type, sha256, data = row[0], row[1], bytes(row[2])
    if hashlib.sha256(data).hexdigest() != sha256:
        raise PhotoCorrupt(N_("officer %(officer)s: stored photo does not match its sha256"), officer=officer_id)
    return Photo(content_type, sha256, data)


def photo_in_scope(conn: psycopg.Connection, *, scope: Scope, officer_id: int) -> Photo:
    """The photo of an officer inside `scope`: NotFound when there is none (or the officer lies outside)."""
    officer_in_scope(conn, scope=scope, officer_id=officer_id)
    photo = read_photo(conn, officer_id)
    if photo is None:
        raise NotFound(N_("no photo of officer %(officer)s inside your scope"), officer=officer_id)
    return photo
