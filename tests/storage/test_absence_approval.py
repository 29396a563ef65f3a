"""Excuses after the fact need approval from above the hall, in the storage layer against a real PostgreSQL
(migration 046): an absence the hall enters after it began is pending and excuses nothing, neither an unstaffed
event (`unstaffed_excuse`, the alerts, cases and scorecards) nor rostered time (`absences_between`, presence);
a manager above the hall approves it, the hall never does; a planned absence, or one entered from above the
hall, is approved as it is recorded; the absences recorded before the migration stay approved."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from core.config import ScorecardConfig
from pipeline.rows import DeskSample
from storage.auth.model import Role, Scope, User
from storage.auth.users import create_user
from storage.migrate import apply_migrations
from storage.records import officers, rosters
from storage.records.common import NotFound, StepForbidden
from storage.records.rosters import PLANNED_GRACE, Shift
from storage.records.scorecards import Month, Unstaffed, monthly_scorecards
from storage.samples import insert_samples, sync_site
from tests.fix_records import unstaffed
from tests.fix_sites import SITE

HALL = "cc-nanguan"  # in city cc
ZONE = "Asia/Shanghai"
TZ = ZoneInfo(ZONE)
DAY = date(2026, 11, 2)  # a Monday long past: anything recorded about it now is after the fact
CONFIG = ScorecardConfig()
CAST = {  # name: (role, scope)
    "staff": ("hall_staff", f"hall/{HALL}"), "hallboss": ("manager", f"hall/{HALL}"),
    "halladmin": ("admin", f"hall/{HALL}"), "citystaff": ("hall_staff", "city/cc"),
    "cityboss": ("manager", "city/cc"), "insp": ("inspector", "city/cc"), "op": ("center_operator", "province"),
    "jlcboss": ("manager", "city/jlc"), "boss": ("manager", "province"), "root": ("admin", "province"),
}


def local(hh: int, mm: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hh, mm), TZ)


@pytest.fixture
def cast(conn: psycopg.Connection) -> dict[str, User]:
    return {name: create_user(conn, name=name, role=Role(role), scope=Scope.parse(scope),
                              password="correct horse battery") for name, (role, scope) in CAST.items()}


@pytest.fixture
def li(conn: psycopg.Connection) -> int:
    """Li Wei, alone at w1 09:00-12:00 on DAY; the desk seen empty 11:00-12:00 with people waiting 11:10-11:20."""
    officer = officers.create_officer(conn, hall_id=HALL, badge="A1", name="Li Wei")
    rosters.add_shift(conn, Shift(HALL, "w1", officer, time(9), time(12), on_date=DAY))
    start = local(9).astimezone(UTC)
    insert_samples(conn, [DeskSample(start + timedelta(seconds=s), HALL, "w1", "cam1",
                                     "present" if s < 7200 else "absent", start, 1) for s in range(0, 3 * 3600, 10)])
    unstaffed(conn, "w1", local(11, 10), local(11, 20))
    return officer


def training(conn: psycopg.Connection, user: User, officer: int, starts: datetime | None = None,
             ends: datetime | None = None) -> int:
    """`user` records Li Wei's training, by default DAY 11:00-12:00 (after the fact)."""
    return rosters.register_absence(conn, user=user, hall_id=HALL, window_id=None, officer_id=officer,
                                    reason="training", starts_at=starts or local(11), ends_at=ends or local(12),
                                    note="first aid")


def excused(conn: psycopg.Connection, starts: datetime, ends: datetime) -> list[int] | None:
    """The absences that excuse w1 left unstaffed from `starts` to `ends` (None: it counts)."""
    row = conn.execute("SELECT excused_by FROM unstaffed_excuse(%s, 'w1', %s, %s, %s)",
                       (HALL, starts, ends, ZONE)).fetchone()
    assert row is not None
    return None if row[0] is None else [e["absence_id"] for e in row[0]]


def november(conn: psycopg.Connection) -> tuple[Unstaffed, float]:
    """w1's unstaffed events in November's scorecards, and its excused rostered seconds."""
    cards = monthly_scorecards(conn, scope=Scope("province"), month=Month(2026, 11), config=CONFIG)
    return cards.unstaffed.get((HALL, "w1"), Unstaffed()), cards.tallies[(HALL, "w1")].presence.excused_s


def approval(conn: psycopg.Connection, absence_id: int) -> tuple[str, str | None]:
    row = rosters.get_absence(conn, scope=Scope("province"), absence_id=absence_id)
    assert (row["approved_at"] is None) == (row["approval"] == "pending")
    return row["approval"], row["approved_by"]


def audited(conn: psycopg.Connection, action: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in conn.execute(
        "SELECT user_name, subject FROM audit_log WHERE action = %s ORDER BY id", (action,))]


@pytest.mark.parametrize("recorder", ["staff", "hallboss", "halladmin", "citystaff"])
def test_the_halls_excuse_after_the_fact_is_pending_and_excuses_nothing(
        conn: psycopg.Connection, cast: dict[str, User], li: int, recorder: str) -> None:
    absence = training(conn, cast[recorder], li)
    assert approval(conn, absence) == ("pending", None)
    assert excused(conn, local(11, 10), local(11, 20)) is None
    assert november(conn) == (Unstaffed(counted=1), 0.0)
    assert rosters.absences_between(conn, hall_ids=[HALL], since=local(0), until=local(23)) == []
    pending, total = rosters.list_absences(conn, scope=cast["cityboss"].scope, approval="pending")
    assert (total, [r["id"] for r in pending]) == (1, [absence])
    assert rosters.list_absences(conn, scope=cast["cityboss"].scope, approval="approved") == ([], 0)


def test_a_manager_above_the_hall_approves_and_then_it_excuses(
        conn: psycopg.Connection, cast: dict[str, User], li: int) -> None:
    absence = training(conn, cast["staff"], li)
    approved = rosters.approve_absence(conn, user=cast["cityboss"], absence_id=absence)
    assert (approved["approval"], approved["approved_by"], approved["officer_name"]) == (
        "approved", "cityboss", "Li Wei")
    assert excused(conn, local(11, 10), local(11, 20)) == [absence]
    assert november(conn) == (Unstaffed(excused=1), 3600.0)
    assert audited(conn, "absence.approve") == [("cityboss", f"absence/{absence}")]
    again = rosters.approve_absence(conn, user=cast["boss"], absence_id=absence)  # changes nothing
    assert again["approved_by"] == "cityboss" and again["approved_at"] == approved["approved_at"]
    assert audited(conn, "absence.approve") == [("cityboss", f"absence/{absence}")]


@pytest.mark.parametrize(("approver", "refused"), [
    ("staff", "role hall_staff may not approve"),
    ("citystaff", "role hall_staff may not approve"),
    ("insp", "role inspector may not approve"),
    ("op", "role center_operator may not approve"),
    ("hallboss", f"the hall may not approve its own absences: someone above hall {HALL} does"),
    ("halladmin", f"the hall may not approve its own absences: someone above hall {HALL} does"),
])
def test_the_hall_and_other_roles_may_not_approve(conn: psycopg.Connection, cast: dict[str, User], li: int,
                                                  approver: str, refused: str) -> None:
    absence = training(conn, cast["staff"], li)
    with pytest.raises(StepForbidden, match=refused):
        rosters.approve_absence(conn, user=cast[approver], absence_id=absence)
    assert approval(conn, absence) == ("pending", None)
    assert excused(conn, local(11, 10), local(11, 20)) is None
    assert audited(conn, "absence.approve") == []


def test_another_citys_manager_does_not_find_it(conn: psycopg.Connection, cast: dict[str, User], li: int) -> None:
    absence = training(conn, cast["staff"], li)
    with pytest.raises(NotFound):
        rosters.approve_absence(conn, user=cast["jlcboss"], absence_id=absence)
    assert approval(conn, absence) == ("pending", None)


@pytest.mark.parametrize("recorder", ["cityboss", "boss", "root"])
def test_an_excuse_entered_from_above_the_hall_is_approved_at_once(
        conn: psycopg.Connection, cast: dict[str, User], li: int, recorder: str) -> None:
    absence = training(conn, cast[recorder], li)
    assert approval(conn, absence) == ("approved", recorder)
    assert excused(conn, local(11, 10), local(11, 20)) == [absence]
    assert november(conn) == (Unstaffed(excused=1), 3600.0)


def test_a_planned_absence_is_approved_as_recorded(conn: psycopg.Connection, cast: dict[str, User]) -> None:
    """The hall enters tomorrow's training today: it excuses an unstaffed spell during it, approved by nobody."""
    tomorrow = datetime.now(TZ).date() + timedelta(days=1)
    officer = officers.create_officer(conn, hall_id=HALL, badge="B1", name="Wang Fang")
    rosters.add_shift(conn, Shift(HALL, "w1", officer, time(9), time(12), on_date=tomorrow))
    absence = training(conn, cast["staff"], officer, local(9, day=tomorrow), local(12, day=tomorrow))
    assert approval(conn, absence) == ("approved", None)
    assert excused(conn, local(10, day=tomorrow), local(10, 10, day=tomorrow)) == [absence]
    (between,) = rosters.absences_between(conn, hall_ids=[HALL], since=local(0, day=tomorrow),
                                          until=local(23, day=tomorrow))
    assert between.reason == "training"


@pytest.mark.parametrize(("begun", "expected"), [
    (PLANNED_GRACE - timedelta(minutes=5), "approved"),   # filled in as the officer left: still planned
    (PLANNED_GRACE + timedelta(minutes=5), "pending"),    # after the grace: an excuse after the fact
])
def test_the_grace_for_planned_absences(conn: psycopg.Connection, cast: dict[str, User], begun: timedelta,
                                        expected: str) -> None:
    officer = officers.create_officer(conn, hall_id=HALL, badge="C1", name="Zhao Min")
    starts = datetime.now(UTC) - begun
    absence = training(conn, cast["staff"], officer, starts, starts + timedelta(hours=2))
    assert approval(conn, absence) == (expected, None)


def test_absences_recorded_before_the_migration_stay_approved(fresh_dsn: str) -> None:
    with ConnectionPool(fresh_dsn, min_size=1, max_size=2) as pool:
        apply_migrations(pool, upto=45)
        with pool.connection() as conn:
            sync_site(conn, SITE)
            row = conn.execute("INSERT INTO absence (hall_id, window_id, reason, starts_at, ends_at, recorded_by)"
                               " VALUES (%s, 'w1', 'leave', %s, %s, 'staff') RETURNING id, recorded_at",
                               (HALL, local(9), local(12))).fetchone()
            assert row is not None
        apply_migrations(pool)
        with pool.connection() as conn:
            after = rosters.get_absence(conn, scope=Scope("province"), absence_id=row[0])
            assert (after["approval"], after["approved_at"], after["approved_by"]) == ("approved", row[1], None)
            assert excused(conn, local(10), local(10, 5)) == [row[0]]
