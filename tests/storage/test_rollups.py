"""Rollups on a real PostgreSQL (plain path): values per minute, hour and hall-hour; every level (up to
city-day) equal to the aggregate of the raw samples, also after a late minute, a second refresh and a hall
moving city; re-running changes nothing; late and replayed samples recompute their buckets without double
counting; a writer transaction open across a refresh is not lost; concurrent refreshes agree; and the
TimescaleDB continuous-aggregate definitions are valid SQL with the plain tables' columns."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterator
from importlib import resources
from typing import Any

import psycopg
import pytest

from pipeline.rows import DeskSample, HealthSample, Sample, ZoneSample
from storage import Database, open_database
from storage.migrate import apply_migrations
from storage.rollups import RollupScheduler, refresh_rollups, rollup_mode
from storage.samples import copy_samples

T0 = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
STATES = ("present", "absent", "unknown")


@pytest.fixture
def db(fresh_dsn: str) -> Iterator[Database]:
    with open_database(dsn=fresh_dsn, migrate=False, pool_size=4) as database:
        apply_migrations(database.pool)
        yield database


def desk(second: int, state: str, *, window: str = "w1", hall: str = "h1") -> DeskSample:
    ts = T0 + dt.timedelta(seconds=second)
    return DeskSample(ts, hall, window, "cam1", state, ts, 1 if state == "present" else 0)


def zone(second: int, people: int, *, zone_id: str = "q1") -> ZoneSample:
    return ZoneSample(T0 + dt.timedelta(seconds=second), "h1", zone_id, "cam1", "queue", people)


def health(second: int, state: str) -> HealthSample:
    ts = T0 + dt.timedelta(seconds=second)
    return HealthSample(ts, "h1", "cam1", state, 1.0 if state == "live" else 0.0, ts, 0, None)


def rows(conn: psycopg.Connection, table: str) -> list[tuple[object, ...]]:
    return conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3").fetchall()


def minute(n: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=n)


def test_plain_rollups_count_states_people_and_live_seconds(db: Database) -> None:
    # 2.5 minutes of per-second samples: state cycles present, absent, unknown; people 0..4
    samples: list[Sample] = [desk(s, STATES[s % 3]) for s in range(150)]
    samples += [zone(s, s % 5) for s in range(150)]
    samples += [health(s, "live" if s < 100 else "stalled") for s in range(150)]
    with db.pool.connection() as conn:
        copy_samples(conn, samples)
        assert rollup_mode(conn) == "plain"
        report = refresh_rollups(conn)
        assert report.minutes == {"desk_sample": 3, "zone_sample": 3, "camera_health": 3}
        assert rows(conn, "desk_minute") == [
            (minute(0), "h1", "w1", 60, 20, 20, 20, 1),
            (minute(1), "h1", "w1", 60, 20, 20, 20, 1),
            (minute(2), "h1", "w1", 30, 10, 10, 10, 1),
        ]
        assert rows(conn, "desk_hour") == [(T0, "h1", "w1", 150, 50, 50, 50, 1)]
        assert rows(conn, "desk_hall_hour") == [(T0, "h1", 150, 50, 50, 50)]
        assert rows(conn, "zone_minute") == [
            (minute(0), "h1", "q1", "queue", 60, 120, 4),
            (minute(1), "h1", "q1", "queue", 60, 120, 4),
            (minute(2), "h1", "q1", "queue", 30, 60, 4),
        ]
        assert rows(conn, "zone_hall_hour") == [(T0, "h1", "queue", 150, 300, 4)]
        assert [(r[3], r[4]) for r in rows(conn, "health_minute")] == [(60, 60), (60, 40), (30, 0)]
        assert rows(conn, "health_hall_hour") == [(T0, "h1", 150, 100)]


def test_refresh_again_changes_nothing(db: Database) -> None:
    with db.pool.connection() as conn:
        copy_samples(conn, [desk(s, STATES[s % 2]) for s in range(600)])
        refresh_rollups(conn)
        before = {t: rows(conn, t) for t in ("desk_minute", "desk_hour", "desk_hall_hour")}
        again = refresh_rollups(conn)
        assert again.minutes["desk_sample"] == 0
        assert {t: rows(conn, t) for t in before} == before


def test_late_samples_recompute_old_buckets_and_replays_count_once(db: Database) -> None:
    with db.pool.connection() as conn:
        copy_samples(conn, [desk(s, "present") for s in range(0, 7200, 10)])  # two hours, every 10 s
        refresh_rollups(conn)
        assert conn.execute("SELECT sum(samples) FROM desk_hour").fetchone() == (720,)
        # a replay after an outage: the same samples again plus the missing odd seconds of minute 5,
        # arriving after the rollups had moved on
        late = [desk(s, "absent") for s in range(301, 360, 2)]
        copy_samples(conn, [desk(s, "present") for s in range(0, 600, 10)] + late)
        report = refresh_rollups(conn)
        assert report.minutes["desk_sample"] == 1  # the replayed rows were stored once, not again
        assert conn.execute("SELECT samples, present, absent FROM desk_minute WHERE bucket = %s",
                            (minute(5),)).fetchone() == (36, 6, 30)
        assert conn.execute("SELECT samples, present, absent FROM desk_hour WHERE bucket = %s",
                            (T0,)).fetchone() == (390, 360, 30)
        assert conn.execute("SELECT sum(samples) FROM desk_hall_hour").fetchone() == (750,)


def test_rows_beyond_until_wait_for_a_later_refresh(db: Database) -> None:
    with db.pool.connection() as conn:
        copy_samples(conn, [desk(s, "present") for s in range(0, 240, 5)])  # minutes 0-3
        refresh_rollups(conn, until=minute(2))
        assert [r[0] for r in rows(conn, "desk_minute")] == [minute(0), minute(1)]
        refresh_rollups(conn, until=minute(10))
        assert [r[0] for r in rows(conn, "desk_minute")] == [minute(n) for n in range(4)]


def test_a_writer_transaction_open_across_a_refresh_is_not_lost(db: Database) -> None:
    with db.pool.connection() as writer, db.pool.connection() as conn:
        writer.execute("BEGIN")
        copy_samples(writer, [desk(s, "absent") for s in range(60)])  # inside the open transaction
        refresh_rollups(conn)  # cannot see the rows yet
        assert rows(conn, "desk_minute") == []
        writer.execute("COMMIT")
        refresh_rollups(conn)
        assert conn.execute("SELECT samples, absent FROM desk_minute").fetchone() == (60, 60)


def test_concurrent_refreshes_give_the_same_rollups(db: Database) -> None:
    with db.pool.connection() as conn:
        copy_samples(conn, [desk(s, STATES[s % 3], window=f"w{s % 4}") for s in range(3600)])
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def refresh() -> None:
        try:
            with db.pool.connection() as conn:
                start.wait(timeout=30)
                refresh_rollups(conn)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=refresh) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with db.pool.connection() as conn:
        assert conn.execute("SELECT sum(samples), sum(present), count(*) FROM desk_minute").fetchone() \
            == (3600, 1200, 240)
        assert conn.execute("SELECT sum(samples) FROM desk_hour").fetchone() == (3600,)


def test_scheduler_refreshes_in_its_thread_until_stopped(db: Database) -> None:
    with db.pool.connection() as conn:
        copy_samples(conn, [zone(s, 3) for s in range(120)])
    scheduler = RollupScheduler(db.pool, interval_s=3600.0)
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run, args=(stop,), name="rollups")
    thread.start()
    assert scheduler.ticked.wait(30)
    stop.set()
    thread.join(30)
    assert not thread.is_alive() and scheduler.failures == 0
    assert scheduler.last is not None and scheduler.last.minutes["zone_sample"] == 2
    with db.pool.connection() as conn:
        assert conn.execute("SELECT samples, people_sum FROM zone_hall_hour").fetchone() == (120, 360)


def test_scheduler_survives_an_unreachable_database() -> None:
    from psycopg_pool import ConnectionPool

    pool = ConnectionPool("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1", min_size=0, max_size=1,
                          open=True)
    try:
        scheduler = RollupScheduler(pool, interval_s=60.0, timeout_s=1.0)
        assert scheduler.tick() is None and scheduler.failures == 1
    finally:
        pool.close()


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_scheduler_rejects_a_bad_interval(bad: float) -> None:
    with pytest.raises(ValueError, match="interval_s"):
        RollupScheduler(None, interval_s=bad)  # type: ignore[arg-type]


def test_timescaledb_definitions_are_valid_sql_with_the_plain_columns(db: Database) -> None:
    """No TimescaleDB here: the continuous-aggregate queries run as ordinary materialized views,
    with a stand-in time_bucket, in a schema of their own; columns must match the plain tables."""
    migrations = resources.files("storage").joinpath("migrations")
    text = "".join(migrations.joinpath(f).read_text() for f in ("030_rollups.sql", "042_rollup_days_and_cities.sql"))
    views = re.findall(r"\$v\$(.*?)\$v\$", text, flags=re.S)
    assert len(views) == 24
    with db.pool.connection() as conn:
        conn.execute("CREATE SCHEMA tsdb")
        conn.execute("CREATE FUNCTION tsdb.time_bucket(interval, timestamptz) RETURNS timestamptz"
                     " LANGUAGE sql IMMUTABLE AS $$ SELECT date_bin($1, $2, '2000-01-01 00:00+00') $$")
        conn.execute("SET search_path = tsdb, public")
        for view in views:
            plain = re.sub(r"WITH \(timescaledb[^)]*\)", "", view).replace("WITH NO DATA", "")
            name = re.search(r"VIEW (\w+)", plain)[1]  # type: ignore[index]
            conn.execute(plain.replace(f"VIEW {name}", f"VIEW tsdb.{name}"))
            def columns(relation: str) -> list[str]:
                return [r[0] for r in conn.execute(
                    "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
                    " AND NOT attisdropped ORDER BY attnum", (relation,))]

            assert columns(f"tsdb.{name}") == columns(f"public.{name}"), name
        conn.rollback()


# --- the coarser levels of migration 042: each equals the aggregate of the raw samples ---------------------
CITY_OF = {"h1": "c1", "h2": "c1", "h3": "c2"}
LEVELS = [f"{p}_{g}" for p in ("desk", "zone", "health")
          for g in ("minute", "hour", "day", "hall_hour", "hall_day", "city_minute", "city_hour", "city_day")]
T1 = dt.datetime(2026, 11, 1, 20, 0, tzinfo=dt.UTC)  # 50 hours from here cross two UTC midnights


def province_samples(start: dt.datetime, hours: int, *, step_min: int = 7, halls: tuple[str, ...] = ("h1", "h2", "h3"),
                     ) -> list[Sample]:
    out: list[Sample] = []
    for m in range(0, hours * 60, step_min):
        ts = start + dt.timedelta(minutes=m)
        for i, hall in enumerate(halls):
            for w in ("w1", "w2"):
                state = STATES[(m // step_min + i + int(w[1])) % 3]
                out.append(DeskSample(ts, hall, w, "cam1", state, ts, (m + i) % 3 if state == "present" else 0))
            out.append(ZoneSample(ts, hall, "q1", "cam1", "queue", (m // step_min + i) % 9))
            out.append(ZoneSample(ts, hall, "s1", "cam2", "self_service", (m // step_min) % 4))
            for cam in ("cam1", "cam2"):
                up = (m // step_min + i + len(cam)) % 5 != 0
                out.append(HealthSample(ts, hall, cam, "live" if up else "stalled", 1.0 if up else 0.0, ts, 0, None))
    return out


def _floor(t: dt.datetime, width: str) -> dt.datetime:
    if width == "day":
        return t.replace(hour=0, minute=0, second=0, microsecond=0)
    return t.replace(second=0, microsecond=0) if width == "minute" else t.replace(minute=0, second=0, microsecond=0)


def expected_rows(samples: list[Sample], table: str, city_of: dict[str, str]) -> list[tuple[Any, ...]]:
    """The table's rows computed here from the raw samples (one row per bucket and key), sorted."""
    prefix, *grain_parts = table.split("_")
    grain = grain_parts[0] if len(grain_parts) == 2 else "subject"
    width = grain_parts[-1]
    out: dict[tuple[Any, ...], list[Any]] = {}
    for s in samples:
        if grain == "city" and s.hall_id not in city_of:
            continue
        values: list[Any]
        extra: tuple[str, ...]
        if isinstance(s, DeskSample) and prefix == "desk":
            subject, extra, names = (s.hall_id, s.window_id), (), ["samples", "present", "absent", "unknown"]
            values = [1, int(s.state == "present"), int(s.state == "absent"), int(s.state == "unknown")]
            names, values = (names + ["people_max"], values + [s.people]) if grain == "subject" else (names, values)
        elif isinstance(s, ZoneSample) and prefix == "zone":
            subject, extra = (s.hall_id, s.zone_id), (s.kind,)
            names, values = ["samples", "people_sum", "people_max"], [1, s.people, s.people]
            names, values = (["kind", *names], [s.kind, *values]) if grain == "subject" else (names, values)
        elif isinstance(s, HealthSample) and prefix == "health":
            subject, extra = (s.hall_id, s.camera_id), ()
            names, values = ["samples", "live"], [1, int(s.state == "live")]
            names, values = (names + ["fps_sum"], values + [s.fps]) if grain == "subject" else (names, values)
        else:
            continue
        owner = {"hall": (s.hall_id, *extra), "city": (city_of.get(s.hall_id), *extra), "subject": subject}[grain]
        key = (_floor(s.ts, width), *owner)
        old = out.get(key)
        out[key] = values if old is None else [max(a, b) if n in ("people_max", "kind") else a + b
                                               for n, a, b in zip(names, old, values, strict=True)]
    return sorted((*k, *v) for k, v in out.items())


def add_geography(conn: psycopg.Connection, city_of: dict[str, str]) -> None:
    conn.execute("INSERT INTO province VALUES ('p', 'P') ON CONFLICT DO NOTHING")
    for city in sorted(set(city_of.values())):
        conn.execute("INSERT INTO city VALUES (%s, 'p', %s) ON CONFLICT DO NOTHING", (city, city.upper()))
    for hall, city in city_of.items():
        conn.execute("INSERT INTO hall (id, city_id, name, size, flow) VALUES (%s, %s, %s, 'small', 'one_window_quick')"
                     " ON CONFLICT (id) DO UPDATE SET city_id = EXCLUDED.city_id", (hall, city, hall.upper()))
    conn.commit()


def assert_levels_match(conn: psycopg.Connection, samples: list[Sample], city_of: dict[str, str]) -> None:
    for table in LEVELS:
        got = sorted(tuple(r) for r in conn.execute(f"SELECT * FROM {table}"))
        assert got == expected_rows(samples, table, city_of), table


def test_every_level_equals_the_aggregate_of_the_raw_samples(db: Database) -> None:
    samples = province_samples(T1, 50)
    with db.pool.connection() as conn:
        add_geography(conn, CITY_OF)
        copy_samples(conn, samples)
        refresh_rollups(conn)
        assert conn.execute("SELECT count(DISTINCT bucket) FROM desk_city_day").fetchone() == (3,)
        assert_levels_match(conn, samples, CITY_OF)


def test_a_late_minute_and_a_second_refresh_keep_every_level_exact(db: Database) -> None:
    samples = province_samples(T1, 30)
    with db.pool.connection() as conn:
        add_geography(conn, CITY_OF)
        copy_samples(conn, samples)
        refresh_rollups(conn)
        # a late minute of the first evening (yesterday, by the clock of the rollups), for a hall and a window
        # that have samples in that minute already and for one that had none
        late_ts = T1 + dt.timedelta(minutes=3, seconds=20)
        late: list[Sample] = [DeskSample(late_ts, "h1", "w1", "cam1", "absent", late_ts, 0),
                              DeskSample(late_ts, "h3", "w9", "cam1", "present", late_ts, 2),
                              ZoneSample(late_ts, "h2", "q1", "cam1", "queue", 40),
                              HealthSample(late_ts, "h3", "cam1", "stalled", 0.0, late_ts, 1, "late")]
        copy_samples(conn, late)
        first = refresh_rollups(conn)
        assert first.minutes == {"desk_sample": 1, "zone_sample": 1, "camera_health": 1}
        assert_levels_match(conn, samples + late, CITY_OF)
        before = {t: rows(conn, t) for t in LEVELS}
        again = refresh_rollups(conn)
        assert again.minutes == {"desk_sample": 0, "zone_sample": 0, "camera_health": 0} and again.moved_halls == 0
        assert {t: rows(conn, t) for t in LEVELS} == before


def test_a_hall_that_moves_city_or_appears_is_recomputed_in_the_city_levels(db: Database) -> None:
    samples = province_samples(T1, 30, halls=("h1", "h2", "h3", "h4"))  # h4 is not in the hall table yet
    with db.pool.connection() as conn:
        add_geography(conn, CITY_OF)
        copy_samples(conn, samples)
        assert refresh_rollups(conn).moved_halls == 3  # none recorded before: all three are new
        assert_levels_match(conn, samples, CITY_OF)
        moved = CITY_OF | {"h2": "c2", "h4": "c3"}  # h2 leaves c1 for c2; h4 joins as the only hall of c3
        add_geography(conn, moved)
        report = refresh_rollups(conn)
        assert report.moved_halls == 2 and report.minutes["desk_sample"] == 0
        assert_levels_match(conn, samples, moved)
        assert refresh_rollups(conn).moved_halls == 0
