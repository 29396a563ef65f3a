"""Monthly scorecards against a real PostgreSQL: presence against the roster with an excused absence,
overtime from wait minutes, errors from inspection findings (covert ones only once published), complaints
upheld, month boundaries in local time, scope, and the league tables."""

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from analytics.kpi import Level, PresenceKpi, Tally
from core.config import ScorecardConfig
from pipeline.rows import DeskSample
from storage.auth.model import Scope
from storage.migrate import apply_migrations
from storage.records import officers, rosters
from storage.records.rosters import Shift
from storage.records.scorecards import Month, Unstaffed, monthly_scorecards
from storage.samples import insert_samples, sync_site
from tests.fix_records import unstaffed
from tests.fix_sites import SITE

TZ = ZoneInfo("Asia/Shanghai")
NOV = Month(2026, 11)
CONFIG = ScorecardConfig()


def local(day: int, hh: int, mm: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hh, mm, tzinfo=TZ)


@pytest.fixture
def conn(fresh_dsn: str) -> Iterator[psycopg.Connection]:
    with ConnectionPool(fresh_dsn, min_size=1, max_size=2) as pool:
        migrate(pool)
        with pool.connection() as c:
            sync_site(c, SITE)
            seed_month(c)
            yield c


def migrate(pool: ConnectionPool) -> None:
    apply_migrations(pool)


def complaint(conn: psycopg.Connection, hall: str, window: str | None, received: datetime, *, status: str,
              upheld: bool | None) -> None:
    conn.execute(
        "INSERT INTO complaint (hall_id, window_id, channel, category, summary, received_at, status, assign_due_at,"
        " resolve_due_at, resolution, upheld) VALUES (%s, %s, 'hotline', 'attitude', 'rude', %s, %s, %s, %s, %s, %s)",
        (hall, window, received, status, received, received, None if upheld is None else "checked", upheld))


def finding(conn: psycopg.Connection, hall: str, window: str | None, carried_out: datetime, *, status: str,
            covert: bool, category: str = "error") -> None:
    row = conn.execute(
        "INSERT INTO inspection (kind, hall_id, planned_at, inspector, covert, status, carried_out_at, published_at)"
        " VALUES ('secret_shopper', %s, %s, 'shopper', %s, %s, %s, %s) RETURNING id",
        (hall, carried_out, covert, status, carried_out, carried_out if status == "published" else None)).fetchone()
    assert row is not None
    conn.execute("INSERT INTO finding (inspection_id, window_id, category, severity, description)"
                 " VALUES (%s, %s, %s, 'medium', 'wrong form')", (row[0], window, category))


def wait_minute(conn: psycopg.Connection, ts: datetime, p90: float | None, littles: float | None) -> None:
    conn.execute("INSERT INTO wait_sample (ts, hall_id, zone_id, camera_id, served, dwell_p90_s, littles_s)"
                 " VALUES (%s, 'cc-nanguan', 'q1', 'cam1', 3, %s, %s)", (ts, p90, littles))


def seed_month(conn: psycopg.Connection) -> None:
    a = officers.create_officer(conn, hall_id="cc-nanguan", badge="A1", name="Li Wei")
    b = officers.create_officer(conn, hall_id="cc-nanguan", badge="B1", name="Wang Fang")
    rosters.add_shift(conn, Shift("cc-nanguan", "w1", a, time(9), time(12), on_date=date(2026, 11, 2)))
    rosters.add_shift(conn, Shift("cc-nanguan", "w2", b, time(9), time(10), on_date=date(2026, 11, 3)))
    rosters.add_shift(conn, Shift("cc-nanguan", "w2", b, time(9), time(10), on_date=date(2026, 12, 1)))  # next month
    rosters.add_absence(conn, hall_id="cc-nanguan", window_id=None, officer_id=a, reason="training",
                        starts_at=local(2, 11, 30), ends_at=local(2, 12))
    start = local(2, 9).astimezone(UTC)
    insert_samples(conn, [
        DeskSample(start + timedelta(seconds=s), "cc-nanguan", "w1", "cam1", "present" if s < 7200 else "absent",
                   start, 1) for s in range(3 * 3600)])
    for minute, (p90, littles) in enumerate([(2000.0, None), (2000.0, 100.0), (1000.0, 5000.0), (None, 1900.0),
                                             (None, None)]):
        wait_minute(conn, local(5, 10, minute), p90, littles)
    wait_minute(conn, local(31, 10, month=10), 9999.0, None)                          # October
    complaint(conn, "cc-nanguan", "w1", local(10, 9), status="resolved", upheld=True)
    complaint(conn, "cc-nanguan", "w1", local(11, 9), status="closed", upheld=False)
    complaint(conn, "cc-nanguan", "w1", local(12, 9), status="in_progress", upheld=None)
    complaint(conn, "cc-nanguan", None, local(13, 9), status="closed", upheld=True)  # about the hall
    complaint(conn, "cc-chaoyang", "w1", local(14, 9), status="closed", upheld=True)
    complaint(conn, "cc-chaoyang", "w2", local(1, 1), status="closed", upheld=True)  # 31 Oct 17:00 UTC: November here
    complaint(conn, "cc-chaoyang", "w2", local(30, 23, 30, month=10), status="closed", upheld=True)  # October
    finding(conn, "cc-nanguan", "w2", local(6, 10), status="published", covert=True)
    finding(conn, "cc-chaoyang", "w2", local(6, 10), status="carried_out", covert=True)  # still secret: not counted
    finding(conn, "cc-chaoyang", "w2", local(7, 10), status="carried_out", covert=False)
    finding(conn, "cc-nanguan", "w1", local(7, 10), status="published", covert=False, category="attitude")


def test_month_tallies(conn: psycopg.Connection) -> None:
    cards = monthly_scorecards(conn, scope=Scope("province"), month=NOV, config=CONFIG)
    assert cards.tallies == {
        ("cc-nanguan", "w1"): Tally(PresenceKpi(10800, 1800, 7200, 1800, 0), complaints=1, windows=1),
        ("cc-nanguan", "w2"): Tally(PresenceKpi(3600, 0, 0, 0, 3600), errors=1, windows=1),
        ("cc-nanguan", "w3"): Tally(windows=1),
        ("cc-nanguan", None): Tally(overtime=3, complaints=1),
        ("cc-chaoyang", "w1"): Tally(complaints=1, windows=1),
        ("cc-chaoyang", "w2"): Tally(errors=1, complaints=1, windows=1),
        ("jlc-chuanying", "w1"): Tally(windows=1),
    }


def test_unstaffed_events_inside_an_absence_are_not_held_against_the_window(conn: psycopg.Connection) -> None:
    """Li Wei (w1, 2 Nov 09-12) is in training 11:30-12:00: an unstaffed spell then is excused, one at 10:00 is
    not; counted by the month the event began, rolled up like every tally, and never in the score."""
    before = monthly_scorecards(conn, scope=Scope("province"), month=NOV, config=CONFIG)
    unstaffed(conn, "w1", local(2, 11, 35), local(2, 11, 50))        # in training: excused
    unstaffed(conn, "w1", local(2, 10), local(2, 10, 10))            # rostered and not excused
    unstaffed(conn, "w1", local(2, 11, 20), local(2, 11, 40))        # began before the training
    unstaffed(conn, "w2", local(3, 9, 20), None)                     # Wang Fang rostered; still open
    unstaffed(conn, "w9", local(4, 9), local(4, 9, 5))               # no such window: the hall's
    unstaffed(conn, "w1", local(1, 9, month=12), None)               # December
    unstaffed(conn, "w1", local(5, 9), local(5, 9, 5), hall="cc-chaoyang")
    cards = monthly_scorecards(conn, scope=Scope("province"), month=NOV, config=CONFIG)
    assert cards.unstaffed == {("cc-nanguan", "w1"): Unstaffed(counted=2, excused=1),
                               ("cc-nanguan", "w2"): Unstaffed(counted=1),
                               ("cc-nanguan", None): Unstaffed(counted=1),
                               ("cc-chaoyang", "w1"): Unstaffed(counted=1)}
    assert cards.unstaffed_at(Level.hall) == {"cc-nanguan": Unstaffed(4, 1), "cc-chaoyang": Unstaffed(1, 0)}
    assert cards.unstaffed_at(Level.city) == {"cc": Unstaffed(5, 1)}
    assert cards.unstaffed_at(Level.province) == {"province": Unstaffed(5, 1)}
    assert ("cc-nanguan", None) not in cards.unstaffed_at(Level.window)  # the hall's own stay off the windows
    assert cards.tallies == before.tallies  # shown beside the score, not part of it
    assert [(r.key, r.score) for r in cards.table(Level.window)] == [(r.key, r.score) for r in before.table(
        Level.window)]
    hall_only = monthly_scorecards(conn, scope=Scope("hall", "cc-chaoyang"), month=NOV, config=CONFIG)
    assert hall_only.unstaffed == {("cc-chaoyang", "w1"): Unstaffed(counted=1)}


def test_league_tables_from_province_to_window(conn: psycopg.Connection) -> None:
    cards = monthly_scorecards(conn, scope=Scope("province"), month=NOV, config=CONFIG)
    windows = cards.table(Level.window)
    assert [(r.rank, r.key, r.score.points, r.score.stars) for r in windows] == [
        (1, ("cc-nanguan", "w3"), 100.0, 5),
        (1, ("jlc-chuanying", "w1"), 100.0, 5),
        (3, ("cc-nanguan", "w2"), 97.5, 5),
        (4, ("cc-chaoyang", "w1"), 92.5, 4),
        (5, ("cc-nanguan", "w1"), 90.0, 4),   # equal points with chaoyang/w2, but no error
        (6, ("cc-chaoyang", "w2"), 90.0, 4),
    ]
    halls = cards.table(Level.hall)
    assert [r.key for r in halls] == ["jlc-chuanying", "cc-chaoyang", "cc-nanguan"]
    nanguan = halls[-1]
    assert (nanguan.tally.windows, nanguan.tally.overtime, nanguan.tally.complaints) == (3, 3, 2)
    assert nanguan.score.points == 90.73 and nanguan.tally.presence.presence == 0.8
    assert [r.key for r in cards.table(Level.city)] == ["jlc", "cc"]
    assert [r.key for r in cards.table(Level.province)] == ["province"]
    assert [r.key for r in cards.table(Level.window, city="jlc")] == [("jlc-chuanying", "w1")]
    assert [r.key for r in cards.table(Level.window, hall="cc-chaoyang")] == [("cc-chaoyang", "w1"),
                                                                             ("cc-chaoyang", "w2")]


def test_scorecards_stay_inside_the_scope(conn: psycopg.Connection) -> None:
    cards = monthly_scorecards(conn, scope=Scope("hall", "cc-chaoyang"), month=NOV, config=CONFIG)
    assert {key[0] for key in cards.tallies} == {"cc-chaoyang"}
    assert [r.key for r in cards.table(Level.city)] == ["cc"]
    assert cards.table(Level.city)[0].tally.windows == 2


def test_other_month_and_settings(conn: psycopg.Connection) -> None:
    october = monthly_scorecards(conn, scope=Scope("province"), month=Month(2026, 10), config=CONFIG)
    assert october.tallies[("cc-nanguan", None)].overtime == 1
    assert october.tallies[("cc-chaoyang", "w2")].complaints == 1
    december = monthly_scorecards(conn, scope=Scope("province"), month=Month(2026, 12), config=CONFIG)
    assert december.tallies[("cc-nanguan", "w2")].presence.rostered_s == 3600
    strict = ScorecardConfig(wait_sla_s=900)
    assert monthly_scorecards(conn, scope=Scope("province"), month=NOV, config=strict).tallies[
        ("cc-nanguan", None)].overtime == 4


@pytest.mark.parametrize(("settings", "field"), [
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"weights": {"overtime": 0, "errors": 0, "complaints": 0, "presence": 0}}, "weights"),
    ({"weights": {"overtime": -1}}, "weights.overtime"),
    ({"star_thresholds": [90, 80, 70, 60, 50]}, "star_thresholds"),
    ({"penalties": {"typo": 1}}, "penalties.typo"),
])
def test_scorecard_config_validation(settings, field) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as err:
        ScorecardConfig.model_validate(settings)
    assert ".".join(str(p) for p in err.value.errors()[0]["loc"]).startswith(field)


@pytest.mark.parametrize(("text", "ok"), [
    ("2026-11", True), ("2026-13", False), ("nov", False), ("2026", False), ("9999-12", False), ("0001-01", False)])
def test_month_parse(text, ok) -> None:
    if ok:
        assert str(Month.parse(text)) == text and Month.parse(text).last == date(2026, 11, 30)
    else:
        with pytest.raises(ValueError, match="YYYY-MM"):
            Month.parse(text)
