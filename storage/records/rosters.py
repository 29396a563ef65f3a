"""The roster: which officer staffs which window when, and absences that excuse rostered time.

Shifts repeat on a weekday (within optional validity dates) or happen on one date, in the hall's
local time; several shifts a day are normal (弹性工作制), and a shift may run past midnight. On a
date where a window has dated shifts, those replace its weekday shifts. See docs/rosters.md.

A user's requests go through the functions that take their `scope` or the user (`register_shift`, `get_shift`,
`delete_shift`, `register_absence`, `approve_absence`, `get_absence`, `delete_absence`, `shifts_for`,
`list_absences`, `roster_week`, `import_roster`): a shift or absence of a hall outside it is not found, a hall
named outside it is refused. `add_shift`, `add_absence` and `absences_between` are their building blocks, for
callers that have checked the halls already or act for nobody in particular (the CLI, scorecards, seeding).

Only approved absences excuse. An absence entered before it begins (within `PLANNED_GRACE`) is approved as it
is recorded; one entered after it began is pending until someone above the hall approves it (`approve_absence`),
unless such a person entered it (`approval_refusal` says who may)."""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, LiteralString
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from analytics.kpi import Interval, PresenceKpi, merge, subtract
from core.errors import BadValue, Listed
from core.i18n import N_
from storage.auth.audit import audit
from storage.auth.model import Role, Scope, User
from storage.auth.scope import scope_sql
from storage.records.common import (
    NotFound,
    RecordError,
    StepForbidden,
    WorkflowError,
    check_filter_scope,
    check_hall,
    window_exists,
)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
REASONS = ("training", "leave", "leader_duty")
CSV_COLUMNS = ("hall", "window", "badge", "name", "days", "start", "end", "valid_from", "valid_to")
REQUIRED_COLUMNS = ("hall", "window", "badge", "days", "start", "end")
# The roles that write the roster (officers, shifts); from above the hall they also approve absences.
ROSTER_WRITERS = frozenset({Role.admin, Role.manager})
# An absence recorded no later than this after it began is planned (approved as recorded): the form is filled in
# as the officer leaves for training. Later, it is an excuse after the fact and waits for approval.
PLANNED_GRACE = timedelta(minutes=15)
APPROVALS = ("approved", "pending")


class RosterError(RecordError):
    """A roster or absence request that cannot be carried out; `field` names the offending input."""


@dataclass(frozen=True)
class Shift:
    hall_id: str
    window_id: str
    officer_id: int
    starts: time
    ends: time                       # not after `starts`: ends the next day
    weekday: int | None = None       # ISO 1..7
    on_date: date | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    id: int | None = None

    def applies_on(self, day: date) -> bool:
        if self.on_date is not None:
            return self.on_date == day
        return (day.isoweekday() == self.weekday and (self.valid_from is None or day >= self.valid_from)
                and (self.valid_to is None or day <= self.valid_to))

    def interval_on(self, day: date, tz: ZoneInfo) -> Interval:
        start = datetime.combine(day, self.starts, tz)
        end = datetime.combine(day + timedelta(days=1) if self.ends <= self.starts else day, self.ends, tz)
        return Interval(start.timestamp(), end.timestamp())


@dataclass(frozen=True)
class Slot:
    """One concrete rostered interval of one officer at one window."""

    hall_id: str
    window_id: str
    officer_id: int
    day: date
    span: Interval
    shift_id: int | None = None


def expand(shifts: Iterable[Shift], first: date, last: date, tz: ZoneInfo) -> list[Slot]:
    """The slots of days `first`..`last` (inclusive). A window's dated shifts on a day replace its weekday shifts."""
    by_window: dict[tuple[str, str], list[Shift]] = defaultdict(list)
    for s in shifts:
        by_window[(s.hall_id, s.window_id)].append(s)
    slots = []
    day = first
    while day <= last:
        for window_shifts in by_window.values():
            todays = [s for s in window_shifts if s.on_date == day] or [
                s for s in window_shifts if s.on_date is None and s.applies_on(day)]
            slots += [Slot(s.hall_id, s.window_id, s.officer_id, day, s.interval_on(day, tz), s.id) for s in todays]
        day += timedelta(days=1)
    return sorted(slots, key=lambda s: (s.hall_id, s.window_id, s.span.start))


@dataclass(frozen=True)
class Absence:
    hall_id: str
    window_id: str | None
    officer_id: int | None
    reason: str
    span: Interval


def excuses_for(slot: Slot, absences: Iterable[Absence]) -> list[Interval]:
    """The parts of `slot` excused: an absence of its window, or of its officer wherever rostered."""
    return [a.span for a in absences if a.hall_id == slot.hall_id and (
        a.window_id == slot.window_id if a.window_id is not None else a.officer_id == slot.officer_id)]


WindowKey = tuple[str, str]


def accountable_by_window(slots: Iterable[Slot], absences: Sequence[Absence],
                          clip: Interval | None = None) -> dict[WindowKey, tuple[list[Interval], float, float]]:
    """Per window: (accountable intervals, rostered seconds, excused seconds). A window is accountable while
    any rostered officer is there and not excused (a colleague's overlapping shift still counts)."""
    rostered: dict[WindowKey, list[Interval]] = defaultdict(list)
    kept: dict[WindowKey, list[Interval]] = defaultdict(list)
    for slot in slots:
        span = slot.span
        if clip is not None:
            start = max(span.start, clip.start)
            span = Interval(start, max(start, min(span.end, clip.end)))
        key = (slot.hall_id, slot.window_id)
        rostered[key].append(span)
        kept[key] += subtract([span], excuses_for(slot, absences))
    out = {}
    for key, spans in rostered.items():
        total = sum(iv.seconds for iv in merge(spans))
        left = merge(kept[key])
        out[key] = (left, total, total - sum(iv.seconds for iv in left))
    return out


# ---- CSV import -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RosterRow:
    line: int
    hall_id: str
    window_id: str
    badge: str
    name: str | None
    weekdays: tuple[int, ...]
    on_date: date | None
    starts: time
    ends: time
    valid_from: date | None
    valid_to: date | None


@dataclass
class ImportReport:
    shifts_added: int = 0
    duplicates: int = 0
    officers_added: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, message)

    @property
    def good_rows(self) -> int:
        return self.shifts_added + self.duplicates


_DAY_RANGE = re.compile(r"^([a-z]{3})-([a-z]{3})$")


def parse_days(text: str) -> tuple[tuple[int, ...], date | None]:
    """`2026-12-01` (one date), or weekdays: `mon`, `mon-fri`, `mon wed fri`, `sat;sun`."""
    text = text.strip().lower()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return (), date.fromisoformat(text)
    days: set[int] = set()
    for part in re.split(r"[\s;|/]+", text):
        if not part:
            continue
        span = _DAY_RANGE.match(part)
        names = span.groups() if span else (part, part)
        if any(n not in WEEKDAYS for n in names):
            raise BadValue(N_("days '%(days)s': use a date YYYY-MM-DD or weekdays like mon, mon-fri, 'sat sun'"),
                           days=text)
        first, last = (WEEKDAYS.index(n) + 1 for n in names)
        if last < first:
            raise BadValue(N_("days '%(days)s': a range runs forward, e.g. mon-fri"), days=part)
        days.update(range(first, last + 1))
    if not days:
        raise BadValue(N_("days is empty"))
    return tuple(sorted(days)), None


_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def _time(value: str, column: str) -> time:
    """`8:30`, `08:30` or `08:30:00` (spreadsheets drop the leading zero)."""
    match = _TIME.match(value.strip())
    try:
        if match is None:
            raise ValueError
        return time(int(match[1]), int(match[2]), int(match[3] or 0))
    except ValueError:
        raise BadValue(N_("%(column)s '%(value)s' is not a time like 08:30"), column=column, value=value) from None


def _date(value: str, column: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise BadValue(N_("%(column)s '%(value)s' is not a date like 2026-12-01"), column=column,
                       value=value) from None


def parse_roster_csv(text: str) -> tuple[list[RosterRow], list[tuple[int, str]]]:
    """Rows that parse, and (line, message) for those that do not. Line 1 is the header."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if missing or unknown:
        problem = (f"missing column(s) {', '.join(missing)}" if missing else "") + (
            f"{'; ' if missing else ''}unknown column(s) {', '.join(unknown)}" if unknown else "")
        return [], [(1, f"{problem}; the header must name {', '.join(CSV_COLUMNS)} (name, valid_from, valid_to "
                        "optional)")]
    reader.fieldnames = header
    rows, errors = [], []
    line = 1
    for raw in reader:
        line = reader.line_num
        cells = {k: (v or "").strip() for k, v in raw.items() if k is not None}
        if not any(cells.values()):
            continue
        try:
            if None in raw:
                raise BadValue(N_("more cells than columns"))
            for column in REQUIRED_COLUMNS:
                if not cells.get(column):
                    raise BadValue(N_("%(column)s is empty"), column=column)
            weekdays, on_date = parse_days(cells["days"])
            starts, ends = _time(cells["start"], "start"), _time(cells["end"], "end")
            if starts == ends:
                raise BadValue(N_("start and end are the same time"))
            valid_from, valid_to = _date(cells.get("valid_from", ""), "valid_from"), _date(
                cells.get("valid_to", ""), "valid_to")
            if on_date is not None and (valid_from or valid_to):
                raise BadValue(N_("valid_from/valid_to apply to weekday shifts, not to a dated shift"))
            if valid_from and valid_to and valid_to < valid_from:
                raise BadValue(N_("valid_to is before valid_from"))
            rows.append(RosterRow(line, cells["hall"], cells["window"], cells["badge"], cells.get("name") or None,
                                  weekdays, on_date, starts, ends, valid_from, valid_to))
        except ValueError as exc:
            errors.append((line, str(exc)))
    return rows, errors


def import_roster(conn: psycopg.Connection, text: str, *, scope: Scope) -> ImportReport:
    """Store the good rows of a roster CSV (creating officers named in the file), report the bad ones by line.
    Rows outside `scope`, or naming an unknown hall, window or badge, are bad rows."""
    rows, errors = parse_roster_csv(text)
    report = ImportReport(errors=list(errors))
    windows = {(r[0], r[1]): r[2] for r in conn.execute(
        "SELECT w.hall_id, w.id, h.city_id FROM service_window w JOIN hall h ON h.id = w.hall_id")}
    from storage.records.officers import officers_by_badge

    officers = officers_by_badge(conn, sorted({r.badge for r in rows}))
    for row in rows:
        city = windows.get((row.hall_id, row.window_id))
        if city is None:
            report.errors.append((row.line, f"no window {row.window_id!r} in hall {row.hall_id!r}"))
            continue
        if not scope.allows(row.hall_id, city):
            report.errors.append((row.line, f"hall {row.hall_id!r} is outside your scope"))
            continue
        officer = officers.get(row.badge)
        if officer is None:
            if not row.name:
                report.errors.append((row.line, f"no officer with badge {row.badge!r} (give a name to add one)"))
                continue
            try:
                with conn.transaction():
                    created = conn.execute("INSERT INTO officer (hall_id, badge, name) VALUES (%s, %s, %s)"
                                           " RETURNING id, hall_id, badge, name, active",
                                           (row.hall_id, row.badge, row.name)).fetchone()
            except psycopg.errors.CheckViolation:
                report.errors.append((row.line, f"badge {row.badge!r} or name is not valid"))
                continue
            assert created is not None
            officer = officers[row.badge] = dict(zip(("id", "hall_id", "badge", "name", "active"), created,
                                                     strict=True))
            report.officers_added += 1
        if officer["hall_id"] != row.hall_id:
            report.errors.append((row.line, f"officer {row.badge} belongs to hall {officer['hall_id']!r}"))
            continue
        for weekday in row.weekdays or (None,):
            added = add_shift(conn, Shift(row.hall_id, row.window_id, int(officer["id"]), row.starts, row.ends,
                                          weekday, row.on_date, row.valid_from, row.valid_to))
            if added is None:
                report.duplicates += 1
            else:
                report.shifts_added += 1
    report.errors.sort()
    return report


# ---- SQL --------------------------------------------------------------------------------------------------

def add_shift(conn: psycopg.Connection, shift: Shift) -> int | None:
    """The new shift's id, or None when the same shift is already on the roster."""
    row = conn.execute(
        "INSERT INTO roster_shift (hall_id, window_id, officer_id, weekday, on_date, starts, ends, valid_from,"
        " valid_to) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
        (shift.hall_id, shift.window_id, shift.officer_id, shift.weekday, shift.on_date, shift.starts, shift.ends,
         shift.valid_from, shift.valid_to)).fetchone()
    return None if row is None else int(row[0])


def _officer_hall(conn: psycopg.Connection, officer_id: int) -> str | None:
    row = conn.execute("SELECT hall_id FROM officer WHERE id = %s", (officer_id,)).fetchone()
    return None if row is None else str(row[0])


def register_shift(conn: psycopg.Connection, *, scope: Scope, shift: Shift) -> int:
    """Put a shift of a hall inside `scope` on the roster (OutOfScope otherwise). An unknown hall, window or
    officer, or a shift that is not one, is an error naming the field; WorkflowError when it is there already."""
    check_hall(conn, scope, shift.hall_id, field="hall_id")
    if not window_exists(conn, shift.hall_id, shift.window_id):
        raise RosterError(N_("hall '%(hall)s' has no window '%(window)s'"), field="window_id", hall=shift.hall_id,
                          window=shift.window_id)
    if _officer_hall(conn, shift.officer_id) != shift.hall_id:
        raise RosterError(N_("no officer %(officer)s in hall '%(hall)s'"), field="officer_id", officer=shift.officer_id,
                          hall=shift.hall_id)
    if (shift.weekday is None) == (shift.on_date is None):
        raise RosterError(N_("give either weekday (a repeating shift) or on_date (a one-off shift)"), field="weekday")
    if shift.on_date is not None and (shift.valid_from or shift.valid_to):
        raise RosterError(N_("valid_from/valid_to apply to weekday shifts only"), field="valid_from")
    if shift.valid_from and shift.valid_to and shift.valid_to < shift.valid_from:
        raise RosterError(N_("valid_to is before valid_from"), field="valid_to")
    if shift.starts == shift.ends:
        raise RosterError(N_("a shift cannot start and end at the same time"), field="ends")
    shift_id = add_shift(conn, shift)
    if shift_id is None:
        raise WorkflowError(N_("the same shift is already on the roster"))
    return shift_id


def _one_in_scope(conn: psycopg.Connection, query: LiteralString, *, scope: Scope, kind: str, record_id: int,
                  alias: str = "") -> dict[str, Any]:
    """The row `query` (with `{}` for the scope condition) finds for `record_id`; NotFound when none."""
    in_scope, params = scope_sql(scope, f"{alias}hall_id")
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(sql.SQL(query).format(in_scope), {**params, "id": record_id}).fetchone()
    if row is None:
        if kind == "shift":
            raise NotFound(N_("no shift %(shift)s inside your scope"), shift=record_id)
        raise NotFound(N_("no absence %(absence)s inside your scope"), absence=record_id)
    return row


def get_shift(conn: psycopg.Connection, *, scope: Scope, shift_id: int) -> dict[str, Any]:
    """A shift of a hall inside `scope`; NotFound otherwise."""
    return _one_in_scope(conn, "SELECT * FROM roster_shift WHERE id = %(id)s AND {}", scope=scope, kind="shift",
                         record_id=shift_id)


def delete_shift(conn: psycopg.Connection, *, scope: Scope, shift_id: int) -> dict[str, Any]:
    """Take a shift of a hall inside `scope` off the roster (NotFound otherwise); the shift as it was."""
    return _one_in_scope(conn, "DELETE FROM roster_shift WHERE id = %(id)s AND {} RETURNING *", scope=scope,
                         kind="shift", record_id=shift_id)


def shifts_for(conn: psycopg.Connection, *, scope: Scope, hall_id: str | None = None,
               first: date | None = None, last: date | None = None) -> list[Shift]:
    """Shifts inside `scope` (and `hall_id`) that can apply between `first` and `last`. A `hall_id` outside
    `scope` is refused (OutOfScope)."""
    check_filter_scope(conn, scope, hall_id=hall_id)
    in_scope, params = scope_sql(scope, "hall_id")
    params |= {"hall": hall_id, "first": first, "last": last}
    query = sql.SQL(
        "SELECT id, hall_id, window_id, officer_id, weekday, on_date, starts, ends, valid_from, valid_to"
        " FROM roster_shift WHERE {} AND (%(hall)s::text IS NULL OR hall_id = %(hall)s)"
        " AND (%(first)s::date IS NULL OR coalesce(on_date, valid_to, 'infinity') >= %(first)s::date - 1)"
        " AND (%(last)s::date IS NULL OR coalesce(on_date, valid_from, '-infinity') <= %(last)s)"
        " ORDER BY hall_id, window_id, starts, id").format(in_scope)
    with conn.cursor(row_factory=dict_row) as cur:
        return [Shift(r["hall_id"], r["window_id"], r["officer_id"], r["starts"], r["ends"], r["weekday"],
                      r["on_date"], r["valid_from"], r["valid_to"], r["id"]) for r in cur.execute(query, params)]


def add_absence(conn: psycopg.Connection, *, hall_id: str, window_id: str | None, officer_id: int | None,
                reason: str, starts_at: datetime, ends_at: datetime, note: str = "",
                recorded_by: str | None = None, approved: bool = True, approved_by: str | None = None) -> int:
    """A checked absence's id. `approved`: it excuses at once (as the seeding and the CLI record them), approved
    by `approved_by` (a name) or, without one, as recorded; or (False) it is pending. `register_absence` decides
    this for a user."""
    if reason not in REASONS:
        raise RosterError(N_("reason must be one of %(reasons)s"), field="reason", reasons=Listed(REASONS))
    if window_id is None and officer_id is None:
        raise RosterError(N_("name the window or the officer the absence is for"), field="window_id")
    if ends_at <= starts_at:
        raise RosterError(N_("the absence must end after it starts"), field="ends_at")
    if officer_id is not None and _officer_hall(conn, officer_id) != hall_id:
        raise RosterError(N_("no officer %(officer)s in hall '%(hall)s'"), field="officer_id", officer=officer_id,
                          hall=hall_id)
    try:
        with conn.transaction():
            created = conn.execute(
                "INSERT INTO absence (hall_id, window_id, officer_id, reason, note, starts_at, ends_at, recorded_by,"
                " approved_at, approved_by) VALUES (%(hall)s, %(window)s, %(officer)s, %(reason)s, %(note)s,"
                " %(starts)s, %(ends)s, %(recorded_by)s, CASE WHEN %(approved)s THEN now() END,"
                " CASE WHEN %(approved)s THEN %(approved_by)s::text END) RETURNING id",
                {"hall": hall_id, "window": window_id, "officer": officer_id, "reason": reason, "note": note,
                 "starts": starts_at, "ends": ends_at, "recorded_by": recorded_by, "approved": approved,
                 "approved_by": approved_by}).fetchone()
    except psycopg.errors.ForeignKeyViolation:
        raise RosterError(N_("no window '%(window)s' in hall '%(hall)s'"), field="window_id", window=window_id,
                          hall=hall_id) from None
    assert created is not None
    return int(created[0])


def approval_refusal(user: User, hall_id: str) -> StepForbidden | None:
    """Why `user` may not approve an absence of `hall_id` (inside their scope), or None when they may: someone
    above the hall (city or province scope) in a role that writes the roster; the hall never approves its own."""
    if user.role not in ROSTER_WRITERS:
        return StepForbidden(N_("role %(role)s may not approve absences"), role=user.role)
    if user.scope.kind == "hall":
        return StepForbidden(N_("the hall may not approve its own absences: someone above hall %(hall)s does"),
                             hall=hall_id)
    return None


def _planned(conn: psycopg.Connection, starts_at: datetime) -> bool:
    """Whether an absence recorded now (the transaction's time, as `recorded_at`) is entered before it began."""
    row = conn.execute("SELECT %s::timestamptz >= now() - %s::interval", (starts_at, PLANNED_GRACE)).fetchone()
    assert row is not None
    return bool(row[0])


def register_absence(conn: psycopg.Connection, *, user: User, hall_id: str, window_id: str | None,
                     officer_id: int | None, reason: str, starts_at: datetime, ends_at: datetime,
                     note: str = "") -> int:
    """An absence of a hall inside the user's scope (OutOfScope otherwise; an unknown hall is an error about
    `hall_id`), checked as `add_absence` does and recorded by `user`. It is approved at once when it is planned
    (it begins no earlier than `PLANNED_GRACE` before now) or when `user` may approve it (`approval_refusal`);
    otherwise it is pending and excuses nothing until approved."""
    check_hall(conn, user, hall_id, field="hall_id")
    approver = approval_refusal(user, hall_id) is None
    return add_absence(conn, hall_id=hall_id, window_id=window_id, officer_id=officer_id, reason=reason,
                       starts_at=starts_at, ends_at=ends_at, note=note, recorded_by=user.name,
                       approved=approver or _planned(conn, starts_at), approved_by=user.name if approver else None)


_ABSENCE = ("SELECT a.*, o.name AS officer_name, o.badge,"
            " CASE WHEN a.approved_at IS NULL THEN 'pending' ELSE 'approved' END AS approval"
            " FROM absence a LEFT JOIN officer o ON o.id = a.officer_id")


def get_absence(conn: psycopg.Connection, *, scope: Scope, absence_id: int) -> dict[str, Any]:
    """An absence of a hall inside `scope`, with its officer's name and badge, as listed; NotFound otherwise."""
    return _one_in_scope(conn, _ABSENCE + " WHERE a.id = %(id)s AND {}", scope=scope, kind="absence",
                         record_id=absence_id, alias="a.")


def approve_absence(conn: psycopg.Connection, *, user: User, absence_id: int) -> dict[str, Any]:
    """Approve a pending absence of a hall inside the user's scope (NotFound otherwise), so that it excuses; the
    absence as listed. StepForbidden unless `approval_refusal` allows the user. Approving an approved absence
    changes nothing. Audited (`absence.approve`)."""
    row = _one_in_scope(conn, "SELECT * FROM absence WHERE id = %(id)s AND {} FOR UPDATE", scope=user.scope,
                        kind="absence", record_id=absence_id)
    refused = approval_refusal(user, row["hall_id"])
    if refused is not None:
        raise refused
    if row["approved_at"] is None:
        conn.execute("UPDATE absence SET approved_at = now(), approved_by = %s WHERE id = %s", (user.name, absence_id))
        pending = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()
                   if k not in ("approved_at", "approved_by")}
        audit(conn, user=user, action="absence.approve", subject=f"absence/{absence_id}", details=pending)
    return get_absence(conn, scope=user.scope, absence_id=absence_id)


def delete_absence(conn: psycopg.Connection, *, scope: Scope, absence_id: int) -> dict[str, Any]:
    """Withdraw an absence of a hall inside `scope` (NotFound otherwise); the absence as it was."""
    return _one_in_scope(conn, "DELETE FROM absence WHERE id = %(id)s AND {} RETURNING *", scope=scope,
                         kind="absence", record_id=absence_id)


def list_absences(conn: psycopg.Connection, *, scope: Scope, hall_id: str | None = None,
                  since: datetime | None = None, until: datetime | None = None, approval: str | None = None,
                  limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Absences inside `scope` (`approval`: only those `approved` or `pending`), newest first, each with its
    `approval`, and the total count before paging. A `hall_id` outside `scope` is refused (OutOfScope)."""
    check_filter_scope(conn, scope, hall_id=hall_id)
    if approval is not None and approval not in APPROVALS:
        raise RosterError(N_("approval must be one of %(approvals)s"), field="approval", approvals=Listed(APPROVALS))
    in_scope, params = scope_sql(scope, "a.hall_id")
    where = sql.SQL(" AND ").join([
        in_scope, sql.SQL("(%(hall)s::text IS NULL OR a.hall_id = %(hall)s)"),
        sql.SQL("(%(since)s::timestamptz IS NULL OR a.ends_at > %(since)s)"),
        sql.SQL("(%(until)s::timestamptz IS NULL OR a.starts_at < %(until)s)"),
        sql.SQL("(%(approval)s::text IS NULL OR (a.approved_at IS NULL) = (%(approval)s = 'pending'))"),
    ])
    params |= {"hall": hall_id, "since": since, "until": until, "approval": approval, "limit": limit,
               "offset": offset}
    with conn.cursor(row_factory=dict_row) as cur:
        total = cur.execute(sql.SQL("SELECT count(*) AS n FROM absence a WHERE {}").format(where), params).fetchone()
        rows = cur.execute(sql.SQL(_ABSENCE + " WHERE {} ORDER BY a.starts_at DESC, a.id DESC"
                                           " LIMIT %(limit)s OFFSET %(offset)s").format(where), params).fetchall()
    assert total is not None
    return rows, int(total["n"])


def absences_between(conn: psycopg.Connection, *, hall_ids: Sequence[str], since: datetime,
                     until: datetime) -> list[Absence]:
    """The approved absences of `hall_ids` that meet [since, until): what excuses rostered time (a pending
    absence excuses nothing)."""
    rows = conn.execute(
        "SELECT hall_id, window_id, officer_id, reason, starts_at, ends_at FROM absence"
        " WHERE hall_id = ANY(%s) AND ends_at > %s AND starts_at < %s AND approved_at IS NOT NULL",
        (list(hall_ids), since, until))
    return [Absence(r[0], r[1], r[2], r[3], Interval(r[4].timestamp(), r[5].timestamp())) for r in rows]


# Per interval, the seconds the desk was seen present and absent. A sample's state lasts until the next
# sample, at most `hold` seconds (analytics.kpi.desk_spans); the primary key (hall, window, ts) makes each
# interval one index range scan. Samples from `hold` before the interval can reach into it.
_SEEN_SECONDS = """
SELECT iv.n,
  coalesce(date_part('epoch', sum(least(sp.s1, iv.t1) - greatest(sp.s0, iv.t0))
                              FILTER (WHERE sp.state = 'present' AND sp.s1 > iv.t0)), 0) AS present_s,
  coalesce(date_part('epoch', sum(least(sp.s1, iv.t1) - greatest(sp.s0, iv.t0))
                              FILTER (WHERE sp.state = 'absent' AND sp.s1 > iv.t0)), 0) AS absent_s
FROM unnest(%(n)s::int[], %(hall)s::text[], %(window)s::text[], %(t0)s::timestamptz[], %(t1)s::timestamptz[])
  AS iv(n, hall_id, window_id, t0, t1)
LEFT JOIN LATERAL (
  SELECT d.state, d.ts AS s0,
         least(lead(d.ts) OVER (ORDER BY d.ts), d.ts + make_interval(secs => %(hold)s)) AS s1
  FROM desk_sample d
  WHERE d.hall_id = iv.hall_id AND d.window_id = iv.window_id
    AND d.ts >= iv.t0 - make_interval(secs => %(hold)s) AND d.ts < iv.t1
) sp ON true
GROUP BY iv.n
"""


def seen_seconds(conn: psycopg.Connection, intervals: Sequence[tuple[str, str, Interval]],
                 *, hold_s: float) -> list[tuple[float, float]]:
    """(present seconds, absent seconds) for each (hall, window, interval), in order."""
    if not intervals:
        return []
    params = {
        "n": list(range(len(intervals))), "hall": [h for h, _, _ in intervals],
        "window": [w for _, w, _ in intervals], "hold": hold_s,
        "t0": [_utc(iv.start) for _, _, iv in intervals], "t1": [_utc(iv.end) for _, _, iv in intervals],
    }
    found = {r[0]: (r[1], r[2]) for r in conn.execute(_SEEN_SECONDS, params)}
    return [found.get(i, (0.0, 0.0)) for i in range(len(intervals))]


def presence_by_window(conn: psycopg.Connection, slots: Sequence[Slot], absences: Sequence[Absence], *,
                       hold_s: float, clip: Interval | None = None) -> dict[WindowKey, PresenceKpi]:
    """Presence KPIs of each rostered window (the SQL twin of analytics.kpi.presence_kpi)."""
    accountable = accountable_by_window(slots, absences, clip)
    flat = [(hall, window, iv) for (hall, window), (left, _, _) in accountable.items() for iv in left]
    seen = seen_seconds(conn, flat, hold_s=hold_s)
    sums: dict[WindowKey, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for (hall, window, _), (present, absent) in zip(flat, seen, strict=True):
        sums[(hall, window)][0] += present
        sums[(hall, window)][1] += absent
    out = {}
    for key, (_, rostered, excused) in accountable.items():
        present, absent = sums[key]
        out[key] = PresenceKpi(rostered, excused, present, absent, max(0.0, rostered - excused - present - absent))
    return out


def presence_by_slot(conn: psycopg.Connection, slots: Sequence[Slot], absences: Sequence[Absence], *,
                     hold_s: float) -> list[PresenceKpi]:
    """Presence KPIs of each slot on its own (for the week view: was this officer's shift staffed?)."""
    parts = [(slot, subtract([slot.span], excuses_for(slot, absences))) for slot in slots]
    flat = [(slot.hall_id, slot.window_id, iv) for slot, left in parts for iv in left]
    seen = iter(seen_seconds(conn, flat, hold_s=hold_s))
    out = []
    for slot, left in parts:
        present = absent = 0.0
        for _ in left:
            p, a = next(seen)
            present, absent = present + p, absent + a
        kept = sum(iv.seconds for iv in left)
        out.append(PresenceKpi(slot.span.seconds, slot.span.seconds - kept, present, absent,
                               max(0.0, kept - present - absent)))
    return out


@dataclass(frozen=True)
class WeekSlot:
    slot: Slot
    officer_name: str
    presence: PresenceKpi | None  # None for a slot that has not begun


@dataclass(frozen=True)
class Week:
    hall_id: str
    monday: date
    slots: list[WeekSlot]


def week_monday(day: date) -> date:
    """The Monday of `day`'s week; ValueError for a day whose week cannot be written down (before 1970, after 2999)."""
    if not date(1970, 1, 5) <= day <= date(2999, 12, 24):
        raise BadValue(N_("give a day between 1970 and 2999"))
    return day - timedelta(days=day.weekday())


def roster_week(conn: psycopg.Connection, *, scope: Scope, hall_id: str, day: date, tz: ZoneInfo, hold_s: float,
                now: float) -> Week:
    """The week of `day` in a hall inside `scope` (OutOfScope otherwise; an unknown hall is an error about
    `hall_id`; a day out of range a ValueError, see `week_monday`): every slot with its officer's name and, for
    the slots begun by `now` (unix seconds), their presence."""
    check_hall(conn, scope, hall_id, field="hall_id")
    monday = week_monday(day)
    sunday = monday + timedelta(days=6)
    slots = expand(shifts_for(conn, scope=scope, hall_id=hall_id, first=monday - timedelta(days=1), last=sunday),
                   monday, sunday, tz)
    since = datetime.combine(monday, time(), tz)
    absences = absences_between(conn, hall_ids=[hall_id], since=since, until=since + timedelta(days=8))
    begun = [s for s in slots if s.span.start <= now]
    presence = dict(zip((id(s) for s in begun), presence_by_slot(conn, begun, absences, hold_s=hold_s), strict=True))
    names: dict[int, str] = dict(conn.execute("SELECT id, name FROM officer WHERE hall_id = %s", (hall_id,)).fetchall())
    return Week(hall_id, monday, [WeekSlot(s, str(names.get(s.officer_id, s.officer_id)), presence.get(id(s)))
                                  for s in slots])


def _utc(ts: float) -> datetime:
    from datetime import UTC

    return datetime.fromtimestamp(ts, tz=UTC)
