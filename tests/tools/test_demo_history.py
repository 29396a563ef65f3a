"""The demo's history (`tools.demo_history`) on a real database: samples for every window, queue and camera on
every day, every workflow state and inspection kind, covert plans hidden from the halls they are about (in storage
and through the API), scorecards and trends that have something to say, everything marked as demo data, the same
seed giving the same history, and `--empty` seeding nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from analytics.kpi import Level
from core.config import ZoneKind
from hallwatch.demo import has_samples_before, seed_demo
from models import Detector, load_detector
from monitor.app import create_app
from pipeline.rows import DeskSample
from storage.auth.model import Scope, User
from storage.auth.users import find_user
from storage.records.cases import CaseFilter, CaseStatus, list_cases
from storage.records.complaints import ComplaintFilter, ComplaintStatus, list_complaints
from storage.records.inspections import InspectionKind, InspectionStatus, covert_plan, list_inspections
from storage.records.rosters import list_absences
from storage.records.scorecards import Month, monthly_scorecards
from storage.samples import copy_samples
from storage.trends import trend
from tests.fix_auth import add_user, api_client
from tests.fix_db import new_database, site_pool
from tests.fix_sites import SITE
from tools.demo_history import MARK, demo_seeded, seed_history

DAYS = 7  # a week: five working days whatever the weekday NOW falls on (three days around a weekend hold one)
# A fixed end, so that two seedings can be compared; the current hour, so that "planned" means the future.
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


@contextmanager
def database(server: str) -> Iterator[ConnectionPool]:
    """A database of its own, migrated and holding the example site, as `tests.fix_db.pool` makes one."""
    with new_database(server) as dsn, site_pool(dsn, max_size=4) as pool:
        yield pool


@pytest.fixture(scope="module")
def detector() -> Detector:
    return load_detector(SITE.detector)


@pytest.fixture(scope="module")
def seeded(pg_server: str, detector: Detector) -> Iterator[ConnectionPool]:
    """One history for the module's tests, which only read it."""
    with database(pg_server) as pool:
        seed_history(pool, SITE, days=DAYS, seed=7, now=NOW, detector=detector)
        yield pool


def user(pool: ConnectionPool, name: str) -> User:
    with pool.connection() as conn:
        found = find_user(conn, name=name)
    assert found is not None, name
    return found


def test_every_workflow_state_and_inspection_kind_is_there(seeded: ConnectionPool) -> None:
    center = user(seeded, "demo-center")
    with seeded.connection() as conn:
        assert demo_seeded(conn)
        complaints, _ = list_complaints(conn, user=center, where=ComplaintFilter(), limit=500)
        cases, _ = list_cases(conn, user=center, where=CaseFilter(include_closed=True), limit=500)
        inspections, _ = list_inspections(conn, user=center, limit=500)
        absences, _ = list_absences(conn, scope=Scope.parse("province"), limit=500)
        evidence = conn.execute("SELECT source, count(*) FROM evidence GROUP BY 1").fetchall()
        alerts = conn.execute("SELECT count(*), count(a.at) FROM event_open o LEFT JOIN event_ack a"
                              " USING (hall_id, kind, subject, ts)").fetchone()
        steps = conn.execute("SELECT count(*) FROM complaint_step WHERE user_id IS NOT NULL").fetchone()
    assert {c["status"] for c in complaints} == set(ComplaintStatus)
    assert {c["status"] for c in cases} == set(CaseStatus)
    assert {c["source_kind"] for c in cases} == {"finding", "complaint", "event"}
    assert {i["kind"] for i in inspections} == set(InspectionKind)
    assert {i["status"] for i in inspections} == set(InspectionStatus)
    assert any(covert_plan(i) and i["status"] == "planned" for i in inspections)
    assert evidence and evidence[0][0] == "camera" and evidence[0][1] >= len(SITE.halls)
    assert {a["approval"] for a in absences} == {"approved", "pending"}
    assert alerts is not None and alerts[0] > 10 and 0 < alerts[1] < alerts[0]  # some acknowledged, not all
    assert steps is not None and steps[0] > len(complaints)  # every step taken by a user


def test_covert_plans_stay_hidden_from_the_halls_they_are_about(seeded: ConnectionPool) -> None:
    inspector = user(seeded, "demo-inspector")
    with seeded.connection() as conn:
        everything, _ = list_inspections(conn, user=inspector, limit=500)
        hidden = {i["id"] for i in everything if covert_plan(i)}
        assert len(hidden) >= 2 * len(SITE.halls)  # per hall a covert plan and a covert visit not yet published
        for hall in SITE.halls:
            for name in (f"demo-staff-{hall.id}", f"demo-manager-{hall.id}"):
                seen, _ = list_inspections(conn, user=user(seeded, name), limit=500)
                assert seen and not {i["id"] for i in seen} & hidden, name
                cases, _ = list_cases(conn, user=user(seeded, name), where=CaseFilter(include_closed=True),
                                      limit=500)
                assert not {c["inspection_id"] for c in cases} & hidden, name
        cases, _ = list_cases(conn, user=inspector, where=CaseFilter(include_closed=True), limit=500)
        assert {c["inspection_id"] for c in cases} & hidden  # their cases exist, above the hall


def test_scorecards_differ_between_halls_and_windows(seeded: ConnectionPool) -> None:
    working = Counter((day.year, day.month) for day in local_days() if day.weekday() < 5)
    (year, month), _ = working.most_common(1)[0]  # the month that holds most of the history's working days
    with seeded.connection() as conn:
        cards = monthly_scorecards(conn, scope=Scope.parse("province"), month=Month(year, month),
                                   config=SITE.scorecards)
    halls = [row.score.points for row in cards.table(Level.hall)]
    windows = [row.score.points for row in cards.table(Level.window)]
    assert len(halls) == len(SITE.halls) and None not in halls
    assert len(set(halls)) == len(halls)
    assert len({row.score.stars for row in cards.table(Level.hall)}) > 1  # not every hall five stars
    assert len(set(windows)) > len(SITE.halls) and min(p or 100 for p in windows) < 100
    presence = [row.tally.presence.presence for row in cards.table(Level.window) if row.tally.presence]
    assert presence and all(p is not None and 0.3 < p < 1.0 for p in presence)


def test_trends_have_points_for_every_day(seeded: ConnectionPool) -> None:
    queues = [(h.id, z.id) for h, c in SITE.cameras() for z in c.zones if z.kind.value == "queue"]
    windows = [(h.id, w.id) for h in SITE.halls for w in h.windows]
    cameras = [(h.id, c.id) for h, c in SITE.cameras()]
    with seeded.connection() as conn:
        daily = trend(conn, queues=queues, windows=windows, cameras=cameras, since=NOW - timedelta(days=DAYS),
                      until=NOW, width=timedelta(days=1))
        first = datetime.combine((NOW.astimezone(SITE.scorecards.tz) - timedelta(days=DAYS)).date(), time(),
                                 SITE.scorecards.tz)  # where the history begins: a working day is among them
        hourly = trend(conn, queues=queues, windows=windows, cameras=cameras, since=first, until=NOW,
                       width=timedelta(hours=1))
    assert len(daily.t) >= DAYS and daily.rolled_up_until is not None  # from the rollups
    for series in (daily.queue, daily.present_windows, daily.coverage):
        assert None not in series
    assert max(v or 0 for v in daily.queue_max) >= 3
    assert None not in hourly.coverage and len(set(hourly.queue)) > 3  # peaks and quiet hours


def local_days() -> list[date]:
    """The local days the history covers: `DAYS` before the day of `NOW`, and that day up to `NOW` unless
    `NOW` is its midnight."""
    local = NOW.astimezone(SITE.scorecards.tz)
    today = local.date()
    return [today - timedelta(days=n) for n in range(DAYS, -1 if local.time() > time() else 0, -1)]


def test_samples_for_every_window_queue_and_camera_on_every_day(seeded: ConnectionPool) -> None:
    tz = SITE.scorecards.tz.key
    windows = {(h.id, w.id) for h in SITE.halls for w in h.windows}
    queues = {(h.id, z.id) for h, c in SITE.cameras() for z in c.zones if z.kind is ZoneKind.queue}
    cameras = {(h.id, c.id) for h, c in SITE.cameras()}
    days = set(local_days())
    with seeded.connection() as conn:
        def per_day(query: str) -> set[tuple[Any, ...]]:
            return set(conn.execute(query, (tz,)).fetchall())  # type: ignore[call-overload]

        desk = per_day("SELECT DISTINCT hall_id, window_id, (ts AT TIME ZONE %s)::date FROM desk_sample")
        states = per_day("SELECT DISTINCT hall_id, window_id, state, %s FROM desk_sample")
        queued = per_day("SELECT DISTINCT hall_id, zone_id, (ts AT TIME ZONE %s)::date FROM zone_sample"
                         " WHERE kind = 'queue'")
        busy = per_day("SELECT DISTINCT hall_id, zone_id, (ts AT TIME ZONE %s)::date FROM zone_sample"
                       " WHERE kind = 'queue' AND people > 0")
        health = per_day("SELECT DISTINCT hall_id, camera_id, (ts AT TIME ZONE %s)::date FROM camera_health")
        hours = conn.execute(  # the queues' mean length by local hour, on the whole days before NOW's
            "SELECT extract(hour FROM ts AT TIME ZONE %s)::int, avg(people) FROM zone_sample WHERE kind = 'queue'"
            " AND (ts AT TIME ZONE %s)::date < %s GROUP BY 1", (tz, tz, max(days))).fetchall()
    assert desk == {(h, w, d) for h, w in windows for d in days}
    assert queued == {(h, z, d) for h, z in queues for d in days}
    assert health == {(h, c, d) for h, c in cameras for d in days}
    assert {(h, z) for h, z, _ in busy} == queues  # every queue had people waiting at some time
    assert {(h, w, s) for h, w, s, _ in states} >= {(h, w, s) for h, w in windows for s in ("present", "absent")}
    by_hour: dict[int, float] = {int(h): float(mean) for h, mean in hours}
    assert max(by_hour, key=lambda h: by_hour[h]) in (9, 10, 11, 14, 15, 16)  # a morning or an afternoon peak
    assert by_hour.get(3, 0) == 0 and by_hour.get(12, 0) < max(by_hour.values())  # nobody queues at night


def test_everything_is_marked_as_demo_data(seeded: ConnectionPool) -> None:
    made_by = {table: f"SELECT DISTINCT u.name FROM {table} r JOIN app_user u ON u.id = r.created_by"
               for table in ("complaint", "inspection", "finding", "evidence", "work_case")}
    with seeded.connection() as conn:
        users = [r[0] for r in conn.execute("SELECT name FROM app_user")]
        creators = {t: [r[0] for r in conn.execute(q)] for t, q in made_by.items()}  # type: ignore[call-overload]
        badges = [r[0] for r in conn.execute("SELECT badge FROM officer")]
        refs = [r[0] for r in conn.execute("SELECT external_ref FROM complaint")]
        templates = [r[0] for r in conn.execute("SELECT name FROM checklist_template")]
        actors = [r[0] for r in conn.execute("SELECT DISTINCT user_name FROM audit_log WHERE user_name IS NOT NULL")]
        mark = conn.execute("SELECT details FROM audit_log WHERE action = %s", (MARK,)).fetchall()
        span = conn.execute("SELECT min(ts), max(ts) FROM desk_sample").fetchone()
    assert users and all(n.startswith("demo-") for n in users)
    assert all(creators.values()) and all(n.startswith("demo-") for names in creators.values() for n in names)
    assert badges and all(b.startswith("demo-") for b in badges)
    assert refs and all(r.startswith("demo-") for r in refs)
    assert templates and all(t.startswith("demo ") for t in templates)
    assert actors and all(a.startswith("demo-") for a in actors)
    assert len(mark) == 1 and mark[0][0]["demo"] is True and mark[0][0]["seed"] == 7
    assert span is not None and datetime.fromisoformat(mark[0][0]["until"]) == NOW >= span[1]
    assert span[0].astimezone(SITE.scorecards.tz).date() == datetime.fromisoformat(mark[0][0]["from"]).date()


def test_a_hall_user_does_not_see_its_covert_plans_through_the_api(seeded: ConnectionPool) -> None:
    hall = SITE.halls[0].id
    add_user(seeded, "probe-staff", "hall_staff", f"hall/{hall}")
    add_user(seeded, "probe-inspector", "inspector", "province")
    app = create_app(SITE, seeded)
    listed = {name: api_client(app, name).get("/api/v1/inspections", params={"limit": 200}).json()["data"]
              for name in ("probe-staff", "probe-inspector")}
    covert = {i["id"] for i in listed["probe-inspector"] if i["hall_id"] == hall and covert_plan(i)}
    assert len(covert) >= 2  # the inspector sees the plans (so the staff's list could show them)
    assert listed["probe-staff"] and not {i["id"] for i in listed["probe-staff"]} & covert
    assert all(i["hall_id"] == hall for i in listed["probe-staff"])


def test_a_history_of_a_weekend_alone_seeds(pool: ConnectionPool, detector: Detector) -> None:
    """A history with no shift in some halls (`--days 1` on a Sunday morning) still has samples and records."""
    local = NOW.astimezone(SITE.scorecards.tz)
    sunday = datetime.combine(local.date() - timedelta(days=(local.weekday() + 1) % 7 or 7), time(7),
                              SITE.scorecards.tz)
    report = seed_history(pool, SITE, days=1, seed=3, now=sunday, live_hours=0.25, detector=detector)
    assert report.samples > 0 and report.complaints > 0 and report.inspections > 0


def fingerprint(pool: ConnectionPool) -> dict[str, Any]:
    """What a history consists of, without the times the storage functions stamp with `now()`."""
    queries = {
        "samples": "SELECT (SELECT count(*) FROM desk_sample), (SELECT sum(people) FROM zone_sample),"
                   " (SELECT count(*) FROM camera_health WHERE state = 'live'), (SELECT sum(served) FROM wait_sample)",
        "desk": "SELECT hall_id, window_id, state, count(*) FROM desk_sample GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        "events": "SELECT hall_id, kind, subject, started_at, ended_at FROM event_span ORDER BY 1, 2, 3, 4",
        "complaints": "SELECT hall_id, window_id, category, status, received_at, upheld FROM complaint ORDER BY id",
        "inspections": "SELECT kind, hall_id, covert, status, planned_at, score FROM inspection ORDER BY id",
        "findings": "SELECT inspection_id, window_id, category FROM finding ORDER BY id",
        "cases": "SELECT source_kind, source_ref, hall_id, status, due_at FROM work_case ORDER BY id",
        "absences": "SELECT hall_id, officer_id, reason, starts_at, approved_at IS NULL FROM absence ORDER BY id",
        "acks": "SELECT hall_id, kind, subject, ts, note FROM event_ack ORDER BY 1, 2, 3, 4",
        "evidence": "SELECT inspection_id, finding_id, camera_id, taken_at, sha256 FROM evidence ORDER BY id",
        "rosters": "SELECT o.badge, o.name, s.window_id, s.weekday, s.starts, s.ends FROM roster_shift s"
                   " JOIN officer o ON o.id = s.officer_id ORDER BY s.id",
        "waits": "SELECT hall_id, zone_id, count(*), sum(served), max(dwell_p90_s) FROM wait_sample GROUP BY 1, 2"
                 " ORDER BY 1, 2",
    }
    with pool.connection() as conn:
        return {name: conn.execute(query).fetchall() for name, query in queries.items()}  # type: ignore[arg-type]


def test_the_same_seed_gives_the_same_history(seeded: ConnectionPool, pg_server: str, detector: Detector) -> None:
    with database(pg_server) as again:
        seed_history(again, SITE, days=DAYS, seed=7, now=NOW, detector=detector)
        assert fingerprint(again) == fingerprint(seeded)


def test_empty_seeds_nothing_and_a_seeded_database_is_left_alone(pool: ConnectionPool,
                                                                   seeded: ConnectionPool) -> None:
    assert seed_demo(pool, SITE, days=DAYS, seed=7, empty=True) is None
    assert seed_demo(pool, SITE, days=0, seed=7) is None
    with pool.connection() as conn:
        counts = conn.execute("SELECT (SELECT count(*) FROM desk_sample), (SELECT count(*) FROM complaint),"
                              " (SELECT count(*) FROM inspection), (SELECT count(*) FROM app_user),"
                              " (SELECT count(*) FROM officer)").fetchone()
        assert counts == (0, 0, 0, 0, 0)
        assert not demo_seeded(conn)
    before = fingerprint(seeded)
    assert seed_demo(seeded, SITE, days=DAYS, seed=7) is None  # seeded already: nothing added
    assert fingerprint(seeded) == before


def test_samples_of_a_demo_that_ran_before_keep_a_history_out(pool: ConnectionPool) -> None:
    """Samples from before the start are a demo that ran before (a history would overlap them); those of the
    live pipeline started with this demo are not."""
    started = NOW
    sample = DeskSample(ts=started, hall_id=SITE.halls[0].id, window_id=SITE.halls[0].windows[0].id,
                        camera_id=SITE.halls[0].cameras[0].id, state="present", state_since=started, people=1)
    with pool.connection() as conn:
        copy_samples(conn, [sample])
        assert not has_samples_before(conn, started)
        assert has_samples_before(conn, started + timedelta(seconds=1))
    assert seed_demo(pool, SITE, days=DAYS, seed=7, now=started + timedelta(hours=1)) is None
