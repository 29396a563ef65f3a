"""Officers, rosters and absences against a real PostgreSQL: CSV import with bad rows reported by line,
shift expansion (dated shifts, overnight shifts), photos checked by hash, and the SQL presence KPI
agreeing with the pure one in analytics.kpi on random data."""

import io
import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from PIL import Image

from analytics.kpi import DeskPoint, DeskState, Interval, presence_kpi
from pipeline.rows import DeskSample
from storage.auth.model import Scope
from storage.records import officers, rosters
from storage.records.rosters import Absence, Shift, Slot, expand, parse_days, parse_roster_csv
from storage.samples import insert_samples

TZ = ZoneInfo("Asia/Shanghai")
PROVINCE = Scope("province")


ROSTER_CSV = """hall,window,badge,name,days,start,end,valid_from,valid_to
cc-nanguan,w1,JL0001,Li Wei,mon-fri,08:30,12:00,2026-11-01,
cc-nanguan,w1,JL0001,,mon-fri,13:30,17:00,,
cc-nanguan,w2,JL0002,Wang Fang,sat sun,09:00,15:00,,
cc-nanguan,w9,JL0001,,mon,08:00,12:00,,
cc-nanguan,w2,JL0002,,2026-11-28,10:00,10:00,,
cc-nanguan,w2,JL0003,,mon,08:00,12:00,,
cc-chaoyang,w1,JL0001,,tue,08:00,12:00,,
cc-nanguan,w3,JL0004,Zhao Min,funday,08:00,12:00,,
cc-nanguan,w3,JL0004,Zhao Min,2026-11-30,22:00,06:00,,
"""


def test_roster_csv_import_keeps_good_rows_and_reports_bad_ones(conn: psycopg.Connection) -> None:
    report = rosters.import_roster(conn, ROSTER_CSV, scope=PROVINCE)
    assert report.errors == [
        (5, "no window 'w9' in hall 'cc-nanguan'"),
        (6, "start and end are the same time"),
        (7, "no officer with badge 'JL0003' (give a name to add one)"),
        (8, "officer JL0001 belongs to hall 'cc-nanguan'"),
        (9, "days 'funday': use a date YYYY-MM-DD or weekdays like mon, mon-fri, 'sat sun'"),
    ]
    assert (report.shifts_added, report.officers_added, report.duplicates) == (5 + 5 + 2 + 1, 3, 0)
    again = rosters.import_roster(conn, ROSTER_CSV, scope=PROVINCE)
    assert (again.shifts_added, again.officers_added, again.duplicates) == (0, 0, 13)
    shifts = rosters.shifts_for(conn, scope=PROVINCE, hall_id="cc-nanguan")
    assert len(shifts) == 13
    overnight = [s for s in shifts if s.on_date == date(2026, 11, 30)]
    assert overnight[0].starts == time(22) and overnight[0].ends == time(6)


def test_roster_import_respects_scope(conn: psycopg.Connection) -> None:
    report = rosters.import_roster(conn, ROSTER_CSV, scope=Scope("hall", "cc-chaoyang"))
    assert report.shifts_added == 0
    assert (2, "hall 'cc-nanguan' is outside your scope") in report.errors


@pytest.mark.parametrize(("text", "problem"), [
    ("hall,window,badge,days,start\n", "missing column(s) end"),
    ("hall,window,badge,days,start,end,shift\n", "unknown column(s) shift"),
])
def test_roster_csv_header_errors(text: str, problem: str) -> None:
    rows, errors = parse_roster_csv(text)
    assert rows == [] and errors[0][0] == 1 and problem in errors[0][1]


@pytest.mark.parametrize(("text", "expected"), [
    ("mon", ((1,), None)), ("mon-fri", ((1, 2, 3, 4, 5), None)), ("sat;sun", ((6, 7), None)),
    ("Mon Wed|fri", ((1, 3, 5), None)), ("2026-12-01", ((), date(2026, 12, 1))),
])
def test_parse_days(text, expected) -> None:
    assert parse_days(text) == expected


@pytest.mark.parametrize("text", ["", "fri-mon", "monday", "2026-13-01"])
def test_parse_days_rejects(text) -> None:
    with pytest.raises(ValueError):
        parse_days(text)


def at(day: date, hh: int, mm: int = 0) -> float:
    return datetime.combine(day, time(hh, mm), TZ).timestamp()


def test_expand_dated_shifts_replace_weekday_shifts_and_overnight_runs_on() -> None:
    monday, tuesday = date(2026, 11, 30), date(2026, 12, 1)
    shifts = [
        Shift("h", "w1", 1, time(8, 30), time(12), weekday=1),
        Shift("h", "w1", 1, time(13, 30), time(17), weekday=1),
        Shift("h", "w1", 2, time(9), time(11), weekday=2),
        Shift("h", "w1", 3, time(14), time(16), on_date=tuesday),       # replaces tuesday's weekday shift
        Shift("h", "w2", 4, time(22), time(6), weekday=1, valid_from=monday),  # overnight
        Shift("h", "w2", 4, time(22), time(6), weekday=2, valid_to=monday),    # no longer valid on tuesday
    ]
    slots = expand(shifts, monday, tuesday, TZ)
    assert [(s.window_id, s.officer_id, s.span) for s in slots] == [
        ("w1", 1, Interval(at(monday, 8, 30), at(monday, 12))),
        ("w1", 1, Interval(at(monday, 13, 30), at(monday, 17))),
        ("w1", 3, Interval(at(tuesday, 14), at(tuesday, 16))),
        ("w2", 4, Interval(at(monday, 22), at(tuesday, 6))),
    ]


def test_absence_of_officer_or_window_excuses_rostered_time() -> None:
    day = date(2026, 11, 30)
    slots = [Slot("h", "w1", 1, day, Interval(at(day, 8), at(day, 12))),
             Slot("h", "w1", 2, day, Interval(at(day, 11), at(day, 13))),   # a colleague overlaps 11-12
             Slot("h", "w2", 1, day, Interval(at(day, 14), at(day, 16)))]
    absences = [Absence("h", None, 1, "training", Interval(at(day, 10), at(day, 15))),  # officer 1 anywhere
                Absence("h", "w2", None, "leader_duty", Interval(at(day, 15), at(day, 15, 30)))]
    got = rosters.accountable_by_window(slots, absences)
    left, rostered, excused = got[("h", "w1")]
    assert left == [Interval(at(day, 8), at(day, 10)), Interval(at(day, 11), at(day, 13))]
    assert (rostered, excused) == (5 * 3600, 3600)     # 10-11 nobody accountable; 11-12 the colleague is
    assert got[("h", "w2")][1:] == (2 * 3600, 1.5 * 3600)


def test_absences_are_validated_and_listed_in_scope(conn: psycopg.Connection) -> None:
    officer = officers.create_officer(conn, hall_id="cc-nanguan", badge="JL0009", name="Sun Li")
    t0 = datetime(2026, 11, 30, 1, tzinfo=UTC)
    with pytest.raises(rosters.RosterError) as bad:
        rosters.add_absence(conn, hall_id="cc-nanguan", window_id="w1", officer_id=None, reason="holiday",
                            starts_at=t0, ends_at=t0 + timedelta(hours=1))
    assert bad.value.field == "reason"
    with pytest.raises(rosters.RosterError) as bad:
        rosters.add_absence(conn, hall_id="cc-chaoyang", window_id=None, officer_id=officer, reason="leave",
                            starts_at=t0, ends_at=t0 + timedelta(hours=1))
    assert bad.value.field == "officer_id"
    with pytest.raises(rosters.RosterError) as bad:
        rosters.add_absence(conn, hall_id="cc-nanguan", window_id="w7", officer_id=None, reason="leave",
                            starts_at=t0, ends_at=t0 + timedelta(hours=1))
    assert bad.value.field == "window_id"
    rosters.add_absence(conn, hall_id="cc-nanguan", window_id=None, officer_id=officer, reason="training",
                        starts_at=t0, ends_at=t0 + timedelta(hours=2), recorded_by="admin")
    rows, total = rosters.list_absences(conn, scope=PROVINCE)
    assert total == 1 and rows[0]["officer_name"] == "Sun Li" and rows[0]["reason"] == "training"
    assert rosters.list_absences(conn, scope=Scope("hall", "cc-chaoyang"))[1] == 0
    assert rosters.list_absences(conn, scope=Scope("city", "cc"))[1] == 1


def test_officers_listed_filtered_and_paged(conn: psycopg.Connection) -> None:
    for i in range(7):
        officers.create_officer(conn, hall_id="cc-nanguan" if i < 5 else "jlc-chuanying", badge=f"B{i:03d}",
                                name=f"Officer {i}")
    with pytest.raises(officers.OfficerError) as dup:
        officers.create_officer(conn, hall_id="cc-nanguan", badge="B000", name="Again")
    assert dup.value.field == "badge"
    with pytest.raises(officers.OfficerError) as bad:
        officers.create_officer(conn, hall_id="cc-nanguan", badge="no spaces", name="X")
    assert bad.value.field == "badge"
    rows, total = officers.list_officers(conn, scope=PROVINCE, limit=3, offset=3)
    assert total == 7 and [r["badge"] for r in rows] == ["B003", "B004", "B005"]
    assert officers.list_officers(conn, scope=Scope("city", "cc"))[1] == 5
    assert officers.list_officers(conn, scope=Scope("hall", "jlc-chuanying"), q="6")[1] == 1
    assert officers.list_officers(conn, scope=PROVINCE, q="b00")[1] == 7


def png(width: int = 8) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, width), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def test_officer_photo_type_size_and_hash(conn: psycopg.Connection) -> None:
    officer = officers.create_officer(conn, hall_id="cc-nanguan", badge="P1", name="Photo Person")
    for data, message in [(b"", "empty"), (b"GIF89a....", "JPEG or PNG"), (b"\x89PNG\r\n\x1a\nbroken", "readable"),
                          (b"\xff\xd8\xff" + bytes(officers.PHOTO_MAX_BYTES), "more than")]:
        with pytest.raises(officers.PhotoError, match=message):
            officers.check_photo(data)
    photo = officers.check_photo(png())
    officers.set_photo(conn, officer, photo)
    assert officers.read_photo(conn, officer) == photo
    assert officers.get_officer(conn, officer)["has_photo"] is True
    conn.execute("UPDATE officer_photo SET data = %s WHERE officer_id = %s", (png(9)[:len(photo.data)], officer))
    with pytest.raises(officers.PhotoError, match="does not match"):
        officers.read_photo(conn, officer)


def test_app_role_may_write_roster_tables(conn: psycopg.Connection) -> None:
    with conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL ROLE hallwatch_app")
        conn.execute("INSERT INTO officer (hall_id, badge, name) VALUES ('cc-nanguan', 'R1', 'Role Test')")
        conn.execute("SELECT count(*) FROM roster_shift, absence, officer_photo")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sql_presence_matches_pure_presence(conn: psycopg.Connection, seed: int) -> None:
    rng = random.Random(seed)
    day = date(2026, 11, 30)
    base = at(day, 8)
    states = [DeskState.present, DeskState.absent, DeskState.unknown]
    samples, points = [], {"w1": [], "w2": []}
    for window in ("w1", "w2"):
        t = base - 120
        state = rng.choice(states)
        while t < base + 4 * 3600:
            t += rng.choice([0.5, 1.0, 1.0, 2.0, 3.0, 40.0])   # now and then a gap longer than the hold
            if rng.random() < 0.02:
                state = rng.choice(states)
            ts = datetime.fromtimestamp(round(t, 3), tz=UTC)
            samples.append(DeskSample(ts, "cc-nanguan", window, "cam1", state.value, ts, 1))
            points[window].append(DeskPoint(ts.timestamp(), state))
    insert_samples(conn, samples)
    slots = [Slot("cc-nanguan", "w1", 1, day, Interval(base, base + 3600)),
             Slot("cc-nanguan", "w1", 1, day, Interval(base + 5400, base + 9000)),
             Slot("cc-nanguan", "w2", 2, day, Interval(base + 600, base + 12000))]
    absences = [Absence("cc-nanguan", None, 2, "leave", Interval(base + 3000, base + 4000))]
    got = rosters.presence_by_window(conn, slots, absences, hold_s=15)
    for window, windows_slots in (("w1", slots[:2]), ("w2", slots[2:])):
        expected = presence_kpi(points[window], [s.span for s in windows_slots],
                                [a for s in windows_slots for a in rosters.excuses_for(s, absences)], hold_s=15)
        actual = got[("cc-nanguan", window)]
        for name in ("rostered_s", "excused_s", "present_s", "absent_s", "unknown_s"):
            assert getattr(actual, name) == pytest.approx(getattr(expected, name), abs=1e-3), name
        assert actual.present_s > 0 and actual.absent_s > 0 and actual.unknown_s > 0
