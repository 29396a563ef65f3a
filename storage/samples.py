"""The SQL that stores the timeseries rows (`pipeline.rows`). A sample that is written twice
(a retry after an outage, a replay) is stored once: every insert is ON CONFLICT DO NOTHING, and the
bulk path (`copy_samples`) falls back to that when a COPY meets a row already stored."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import astuple, fields
from operator import attrgetter
from typing import Any

import psycopg
from psycopg import errors
from psycopg.types.json import Jsonb

from core.config import SiteConfig
from pipeline.rows import (
    DeskSample,
    EventCloseSample,
    EventOpenSample,
    HealthSample,
    OfflineSpellSample,
    Sample,
    WaitSample,
    ZoneSample,
)

TABLES: dict[type, str] = {
    DeskSample: "desk_sample",
    ZoneSample: "zone_sample",
    HealthSample: "camera_health",
    OfflineSpellSample: "camera_offline_spell",
    EventOpenSample: "event_open",
    EventCloseSample: "event_close",
    WaitSample: "wait_sample",
}
# Column types for binary COPY, in field order.
COPY_TYPES: dict[type, tuple[str, ...]] = {
    DeskSample: ("timestamptz", "text", "text", "text", "text", "timestamptz", "int2"),
    ZoneSample: ("timestamptz", "text", "text", "text", "text", "int2"),
    HealthSample: ("timestamptz", "text", "text", "text", "float4", "timestamptz", "int4", "text", "text", "int4",
                   "int4"),
    OfflineSpellSample: ("timestamptz", "text", "text", "timestamptz", "text"),
    EventOpenSample: ("timestamptz", "text", "text", "text", "text", "jsonb"),
    EventCloseSample: ("timestamptz", "text", "text", "text", "timestamptz"),
    WaitSample: ("timestamptz", "text", "text", "text", "int2", "float4", "float4", "float4", "float4"),
}
COLUMNS: dict[type, str] = {kind: ", ".join(f.name for f in fields(kind)) for kind in TABLES}
_INSERTS: dict[type, str] = {
    kind: f"INSERT INTO {table} ({COLUMNS[kind]}) VALUES ({', '.join(['%s'] * len(fields(kind)))})"
    " ON CONFLICT DO NOTHING"
    for kind, table in TABLES.items()
}


def insert_samples(conn: psycopg.Connection, samples: Sequence[Sample]) -> None:
    """Insert in one transaction, grouped by table (executemany pipelines the statements)."""
    by_type: dict[type, list[tuple[object, ...]]] = {}
    for sample in samples:
        by_type.setdefault(type(sample), []).append(astuple(sample))
    with conn.transaction(), conn.cursor() as cur:
        for kind, rows in by_type.items():
            cur.executemany(_INSERTS[kind], rows)


_ROW: dict[type, Any] = {kind: attrgetter(*(f.name for f in fields(kind))) for kind in TABLES}
# `details` is JSON text already: binary COPY would store a plain str as a JSON string, not the object.
_ROW[EventOpenSample] = lambda s: (s.ts, s.hall_id, s.camera_id, s.kind, s.subject, Jsonb(s.details, dumps=str))
_INT2_MAX, _INT4_MAX, _FLOAT4_MAX = 2**15 - 1, 2**31 - 1, 3.4028234663852886e38


def copy_samples(conn: psycopg.Connection, samples: Sequence[Sample]) -> None:
    """Store like `insert_samples`, an order of magnitude faster: binary COPY in one transaction.
    A batch holding a sample that is already stored is stored again through a staging table with
    ON CONFLICT DO NOTHING; one holding a value binary COPY would not check (a naive datetime, a
    number beyond its column's range) goes through `insert_samples`, so the server judges it."""
    present = set(map(type, samples))
    kinds = [kind for kind in TABLES if kind in present]
    try:
        try:
            with conn.transaction(), conn.cursor() as cur:
                for kind in kinds:
                    _copy(cur, TABLES[kind], kind, samples)
        except errors.UniqueViolation:
            with conn.transaction(), conn.cursor() as cur:
                for kind in kinds:
                    table, stage = TABLES[kind], f"{TABLES[kind]}_stage"
                    cur.execute(f"CREATE TEMP TABLE {stage} (LIKE {table}) ON COMMIT DROP")
                    _copy(cur, stage, kind, samples)
                    cur.execute(f"INSERT INTO {table} ({COLUMNS[kind]}) SELECT {COLUMNS[kind]} FROM {stage}"
                                " ON CONFLICT DO NOTHING")  # a temp table is scanned in the order it was filled
    except (TypeError, ValueError, OverflowError):  # raised by the client: the server judges them one by one
        insert_samples(conn, samples)


# What binary COPY cannot check itself: it would wrap a number that overflows its column.
_IN_RANGE: dict[type, Callable[[Any], bool]] = {
    DeskSample: lambda s: -_INT2_MAX - 1 <= s.people <= _INT2_MAX,
    ZoneSample: lambda s: -_INT2_MAX - 1 <= s.people <= _INT2_MAX,
    HealthSample: lambda s: all(-_INT4_MAX - 1 <= n <= _INT4_MAX for n in (s.reconnects, s.decode_errors,
                                                                             s.corrupt_frames))
    and abs(s.fps) <= _FLOAT4_MAX,
    OfflineSpellSample: lambda s: True,
    EventOpenSample: lambda s: True,
    EventCloseSample: lambda s: True,
    WaitSample: lambda s: 0 <= s.served <= _INT2_MAX and all(
        v is None or abs(v) <= _FLOAT4_MAX for v in (s.dwell_p50_s, s.dwell_p90_s, s.littles_s, s.mean_queue)),
}


def _copy(cur: psycopg.Cursor, table: str, kind: Any, samples: Sequence[Any]) -> None:
    """COPY the samples of one kind. The others are skipped as the batch streams by, and numbers
    are range-checked there too, so that this work overlaps the server's instead of preceding it."""
    row, in_range = _ROW[kind], _IN_RANGE[kind]
    with cur.copy(f"COPY {table} ({COLUMNS[kind]}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(list(COPY_TYPES[kind]))
        write = copy.write_row
        for s in samples:
            if type(s) is kind:
                if not in_range(s):
                    raise ValueError(f"beyond what binary COPY checks: {s!r}")
                write(row(s))


def sync_site(conn: psycopg.Connection, site: SiteConfig) -> None:
    """Mirror the site file's geography into the database; what the file no longer has is kept
    (samples and records refer to it) but marked inactive."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            "INSERT INTO province (id, name) VALUES (%s, %s)"
            " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name",
            (site.province.id, site.province.name),
        )
        cur.executemany(
            "INSERT INTO city (id, province_id, name) VALUES (%s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET province_id = EXCLUDED.province_id, name = EXCLUDED.name",
            [(c.id, site.province.id, c.name) for c in site.cities],
        )
        for table in ("hall", "service_window", "camera", "zone"):
            cur.execute(f"UPDATE {table} SET active = false")
        cur.executemany(
            "INSERT INTO hall (id, city_id, name, size, flow) VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET city_id = EXCLUDED.city_id, name = EXCLUDED.name,"
            " size = EXCLUDED.size, flow = EXCLUDED.flow, active = true",
            [(h.id, h.city, h.name, h.size.value, h.flow.value) for h in site.halls],
        )
        cur.executemany(
            "INSERT INTO service_window (hall_id, id, name) VALUES (%s, %s, %s)"
            " ON CONFLICT (hall_id, id) DO UPDATE SET name = EXCLUDED.name, active = true",
            [(h.id, w.id, w.name) for h in site.halls for w in h.windows],
        )
        cur.executemany(
            "INSERT INTO camera (hall_id, id, name, url_redacted) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (hall_id, id) DO UPDATE SET name = EXCLUDED.name,"
            " url_redacted = EXCLUDED.url_redacted, active = true",
            [(h.id, c.id, c.name, c.safe_url) for h, c in site.cameras()],
        )
        cur.executemany(
            "INSERT INTO zone (hall_id, id, camera_id, kind, window_id, polygon)"
            " VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (hall_id, id) DO UPDATE SET camera_id = EXCLUDED.camera_id, kind = EXCLUDED.kind,"
            " window_id = EXCLUDED.window_id, polygon = EXCLUDED.polygon, active = true",
            list(_zone_rows(site)),
        )


def _zone_rows(site: SiteConfig) -> Iterable[tuple[object, ...]]:
    for hall, camera in site.cameras():
        for zone in camera.zones:
            yield (hall.id, zone.id, camera.id, zone.kind.value, zone.window, json.dumps(zone.polygon))
