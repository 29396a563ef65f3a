"""Unstaffed events excused by an absence, in SQL against a real PostgreSQL (migration 045): the roster's
slots in SQL agree with `rosters.expand` on random rosters, and a table of events says which are excused
(approved absences cover all of it, and no officer rostered then was there to be held to it) and by which
absence."""

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from storage.records import officers, rosters
from storage.records.rosters import Shift, expand

ZONE = "Asia/Shanghai"
TZ = ZoneInfo(ZONE)
MONDAY = date(2026, 11, 2)


def local(hh: int, mm: int = 0, day: date = MONDAY) -> datetime:
    return datetime.combine(day, time(hh, mm), TZ)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sql_roster_slots_match_expand(conn: psycopg.Connection, seed: int) -> None:
    rng = random.Random(seed)
    officer = officers.create_officer(conn, hall_id="cc-nanguan", badge="R1", name="Random")
    shifts = []
    for _ in range(24):
        starts = time(rng.randrange(24), rng.choice((0, 30)))
        ends = time(rng.randrange(24), rng.choice((0, 30)))
        if starts == ends:
            continue
        dated = rng.random() < 0.3
        first = MONDAY + timedelta(days=rng.randrange(-3, 10))
        shift = Shift("cc-nanguan", rng.choice(("w1", "w2")), officer, starts, ends,
                      weekday=None if dated else rng.randint(1, 7), on_date=first if dated else None,
                      valid_from=None if dated or rng.random() < 0.5 else first,
                      valid_to=None if dated or rng.random() < 0.5 else first + timedelta(days=rng.randrange(9)))
        if rosters.add_shift(conn, shift) is not None:
            shifts.append(shift)
    since, until = local(5, 30), local(20, 0, MONDAY + timedelta(days=8))
    compared = 0
    for window in ("w1", "w2"):
        mine = [s for s in shifts if s.window_id == window]
        expected = sorted((s.span.start, s.span.end) for s in expand(
            mine, since.date() - timedelta(days=1), until.date(), TZ)
            if s.span.end >= since.timestamp() and s.span.start <= until.timestamp())
        found = sorted((lower.timestamp(), upper.timestamp()) for lower, upper in conn.execute(
            "SELECT lower(span), upper(span) FROM roster_slots('cc-nanguan', %s, %s, %s, %s)",
            (window, since, until, ZONE)))
        assert found == expected
        compared += len(found)
    assert compared >= 10


@pytest.fixture
def roster(conn: psycopg.Connection) -> dict[str, int]:
    """A Monday at Nanguan: Li Wei at w1 09-12 (training 09:00-11:30), Wang Fang at w1 11-13 (a handover);
    at w2 Li Wei every Monday 09-17, replaced on this Monday by Wang Fang 09-10 (on leave 09-10); Li Wei at w3
    overnight 22-06, the window excused 23:00-01:00 for leader duty."""
    li = officers.create_officer(conn, hall_id="cc-nanguan", badge="A1", name="Li Wei")
    wang = officers.create_officer(conn, hall_id="cc-nanguan", badge="B1", name="Wang Fang")
    for shift in (Shift("cc-nanguan", "w1", li, time(9), time(12), weekday=1),
                  Shift("cc-nanguan", "w1", wang, time(11), time(13), weekday=1),
                  Shift("cc-nanguan", "w2", li, time(9), time(17), weekday=1),
                  Shift("cc-nanguan", "w2", wang, time(9), time(10), on_date=MONDAY),
                  Shift("cc-nanguan", "w3", li, time(22), time(6), weekday=1)):
        rosters.add_shift(conn, shift)
    ids = {
        "training": rosters.add_absence(conn, hall_id="cc-nanguan", window_id=None, officer_id=li, reason="training",
                                        starts_at=local(9), ends_at=local(11, 30), note="first aid"),
        "leave": rosters.add_absence(conn, hall_id="cc-nanguan", window_id=None, officer_id=wang, reason="leave",
                                     starts_at=local(9), ends_at=local(10)),
        "leader_duty": rosters.add_absence(conn, hall_id="cc-nanguan", window_id="w3", officer_id=None,
                                           reason="leader_duty", starts_at=local(23),
                                           ends_at=local(1, 0, MONDAY + timedelta(days=1))),
    }
    return ids


TUESDAY = MONDAY + timedelta(days=1)
EXCUSES = [  # window, start, end, the absences that excuse it (none: counted against the window)
    ("w1", local(9, 30), local(10), ["training"]),             # only Li Wei rostered, and in training
    ("w1", local(11, 10), local(11, 20), []),                  # Wang Fang is rostered too and not excused
    ("w1", local(11, 20), local(11, 40), []),                  # runs past the end of the training
    ("w1", local(8), local(8, 30), []),                        # nobody rostered, no absence: no excuse
    ("w1", local(9, 30), local(9, 30), ["training"]),          # an instant
    ("w2", local(9, 10), local(9, 50), ["leave"]),             # the dated shift, its officer on leave
    ("w2", local(10, 30), local(10, 40), []),                  # the weekday shift is replaced: nobody rostered
    ("w3", local(23, 30), local(0, 30, TUESDAY), ["leader_duty"]),  # the window's own absence, overnight
    ("w3", local(22, 30), local(23, 30), []),                  # half an hour before the window was excused
    ("w1", local(11, 50), local(12, 10), []),                  # Wang Fang is rostered, not excused
    ("w1", local(8, 50), local(9, 30), []),                    # began before the shift: not all of it excused
    ("w2", local(9, 30), local(10, 30), []),                   # went on after the leave (nobody rostered then)
]


@pytest.mark.parametrize(("window", "starts", "ends", "reasons"), EXCUSES)
def test_unstaffed_excuse_table(conn: psycopg.Connection, roster: dict[str, int],
                                window: str, starts: datetime, ends: datetime, reasons: list[str]) -> None:
    row = conn.execute("SELECT excused_by FROM unstaffed_excuse('cc-nanguan', %s, %s, %s, %s)",
                       (window, starts, ends, ZONE)).fetchone()
    assert row is not None
    excuse = row[0] or []
    assert [e["reason"] for e in excuse] == reasons
    assert [e["absence_id"] for e in excuse] == [roster[r] for r in reasons]


def test_excuse_names_the_officer_and_note(conn: psycopg.Connection, roster: dict[str, int]) -> None:
    row = conn.execute("SELECT excused_by FROM unstaffed_excuse('cc-nanguan', 'w1', %s, %s, %s)",
                       (local(9, 30), local(10), ZONE)).fetchone()
    assert row is not None
    (excuse,) = row[0]
    assert (excuse["officer"], excuse["note"]) == ("Li Wei", "first aid")
    assert datetime.fromisoformat(excuse["starts_at"]) == local(9)
    assert datetime.fromisoformat(excuse["ends_at"]) == local(11, 30)


def test_time_zone_decides_the_roster(conn: psycopg.Connection, roster: dict[str, int]) -> None:
    """09:30 in Shanghai is 01:30 UTC: read in UTC the roster has nobody at w1 then, so nothing is excused."""
    row = conn.execute("SELECT excused_by FROM unstaffed_excuse('cc-nanguan', 'w1', %s, %s, 'UTC')",
                       (local(9, 30), local(10))).fetchone()
    assert row is not None and row[0] is None


def insert_event(conn: psycopg.Connection, window: str, starts: datetime, ends: datetime | None) -> str:
    conn.execute("INSERT INTO event_open (ts, hall_id, camera_id, kind, subject) VALUES"
                 " (%s, 'cc-nanguan', 'cam1', 'unstaffed_while_waiting', %s)", (starts, window))
    if ends is not None:
        conn.execute("INSERT INTO event_close (ts, hall_id, kind, subject, ended_at) VALUES"
                     " (%s, 'cc-nanguan', 'unstaffed_while_waiting', %s, %s)", (starts, window, ends))
    row = conn.execute("SELECT event_ref('cc-nanguan', 'unstaffed_while_waiting', %s, %s)",
                       (window, starts)).fetchone()
    assert row is not None
    return str(row[0])


def test_event_excuse_by_alert_id(conn: psycopg.Connection, roster: dict[str, int]) -> None:
    closed = insert_event(conn, "w1", local(9, 30), local(10))
    odd = local(9, 40).replace(microsecond=654321)
    insert_event(conn, "w1", odd, local(9, 50))
    still_open = insert_event(conn, "w2", local(9, 10), None)  # judged up to now: later Mondays count

    def excuse(ref: str) -> list[str] | None:
        row = conn.execute("SELECT (SELECT excused_by FROM event_excuse(%s, %s))", (ref, ZONE)).fetchone()
        assert row is not None
        return None if row[0] is None else [e["reason"] for e in row[0]]

    assert excuse(closed) == ["training"]
    assert excuse(conn.execute("SELECT event_ref('cc-nanguan', 'unstaffed_while_waiting', 'w1', %s)",
                               (odd,)).fetchone()[0]) == ["training"]  # type: ignore[index]
    assert excuse(still_open) is None
    assert datetime.now(UTC) > local(10, 0, MONDAY + timedelta(days=7))  # the next Monday's shift has begun
    assert excuse("cc-nanguan:queue_over_limit:q1:1") is None
    assert excuse("not an alert id") is None
