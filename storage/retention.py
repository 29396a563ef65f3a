"""Retention: how long stored data is kept (`retention:` in the site file, `core.config.retention`), applied by
`apply_retention` once (`hallwatch db prune`) or by `RetentionScheduler` every `interval_s` in the service.

What goes, and when (docs/operations.md):
- the raw per-second samples (`RAW_TABLES`) after `raw_days`;
- the per-minute rollups after `minute_rollup_days`; the hour and day rollups, the per-minute waits and the offline
  spells after `rollup_days`;
- evidence after `evidence_days` when that is set, except evidence of an inspection still in progress or of an
  inspection or finding with a case that is not closed.
Never: events and their acknowledgements, alerts, cases, complaints, inspections, findings, rosters, users and
the audit log (which refuses DELETE anyway).

Plain PostgreSQL: the raw tables are partitioned by UTC day (migration 050). A run makes the partitions of the
next `partitions_ahead_days` days (and of any day whose rows wait in the default partition), drops the partitions
whose last day is older than the retention (DROP TABLE: no row-by-row DELETE, no bloat, disk given back at once),
and deletes from the default partition the rows older than it. The other tables are small: rows are deleted.

TimescaleDB: compression and retention policies on the hypertables and continuous aggregates, and refresh
policies on the continuous aggregates that never reach back past what the level below still keeps (a refresh over
dropped chunks would empty the buckets there). A run sets them (again when the config changed) and drops the
chunks that are due at once, so the counts are in the log; TimescaleDB's jobs keep doing it in between.

Everything here changes tables, so it runs as their owner (the migration role), never as the service's login
role. Every statement waits at most `LOCK_TIMEOUT` for a lock (set on the connection it is given): a busy table is
skipped and tried next run."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

from core.config import RetentionConfig
from core.redact import redact_text
from storage.rollups import BUCKETS_PER_BATCH, ROLLUPS, rollup_mode

log = logging.getLogger(__name__)

RAW_TABLES = ("desk_sample", "zone_sample", "camera_health")
KEPT_AS_ROLLUPS = ("wait_sample", "camera_offline_spell")  # per minute / per spell: kept as long as the rollups
MINUTE_ROLLUPS = tuple(level.target for rollup in ROLLUPS for level in rollup.levels if level.width == "minute")
COARSE_ROLLUPS = tuple(level.target for rollup in ROLLUPS for level in rollup.levels if level.width != "minute")
LOCK_TIMEOUT = "10s"
_LOCK_KEY = 0x72657465  # "rete": one run at a time per database

# -- plain PostgreSQL -------------------------------------------------------------------------------------------

# Days to give a partition: the next ones, and those whose rows wait in the default partition (within retention).
_DAYS_TO_MAKE = """
SELECT %(today)s::date + i FROM generate_series(0, %(ahead)s) i
UNION
SELECT DISTINCT (ts AT TIME ZONE 'UTC')::date FROM {default}
WHERE ts >= %(cutoff)s AND ts < (%(today)s::date + %(ahead)s + 1)::timestamp AT TIME ZONE 'UTC'
ORDER BY 1
"""
# Partitions whose every row is older than the cutoff.
_EXPIRED = "SELECT partition::text FROM hallwatch_partitions(%(table)s) WHERE hi <= %(cutoff)s ORDER BY hi"
# Evidence that may go: old, and no case or inspection in progress still needs it.
_EXPIRED_EVIDENCE = """
DELETE FROM evidence e
WHERE e.created_at < %(cutoff)s
  AND NOT EXISTS (SELECT 1 FROM inspection i WHERE i.id = e.inspection_id AND i.status IN ('planned', 'carried_out'))
  AND NOT EXISTS (SELECT 1 FROM work_case c WHERE c.status <> 'closed'
                  AND (c.inspection_id = e.inspection_id
                       OR c.source_kind = 'finding' AND c.source_ref = e.finding_id::text))
RETURNING e.id
"""


@dataclass
class RetentionReport:
    mode: str  # "plain" or "timescaledb"
    partitions_made: list[str] = field(default_factory=list)
    partitions_dropped: dict[str, int | None] = field(default_factory=dict)  # partition -> rows (estimated), chunk
    rows_deleted: dict[str, int] = field(default_factory=dict)  # table -> rows deleted one by one
    evidence_deleted: list[int] = field(default_factory=list)
    policies: list[str] = field(default_factory=list)  # TimescaleDB policies added or changed
    skipped: list[str] = field(default_factory=list)  # tables left for the next run (a lock was busy)
    seconds: float = 0.0


def kept_days(config: RetentionConfig) -> dict[str, int]:
    """Per table (or continuous aggregate): the days its rows are kept."""
    out = dict.fromkeys(RAW_TABLES, config.raw_days)
    out.update(dict.fromkeys(MINUTE_ROLLUPS, config.minute_rollup_days))
    out.update(dict.fromkeys((*COARSE_ROLLUPS, *KEPT_AS_ROLLUPS), config.rollup_days))
    return out


def apply_retention(conn: psycopg.Connection, config: RetentionConfig, *, now: datetime | None = None
                    ) -> RetentionReport:
    """Apply `config` once, as the owner of the tables; `conn` must be in autocommit mode (each table is its own
    transaction, so that no lock is held longer than one table's work). `now` (default: the database's) is what
    the ages are counted from."""
    if not conn.autocommit:
        raise ValueError("retention needs a connection in autocommit mode")
    started = time.perf_counter()
    now = now or conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
    conn.execute("SELECT set_config('lock_timeout', %s, false)", (LOCK_TIMEOUT,))
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        mode = rollup_mode(conn)
        report = RetentionReport(mode)
        limits = {table: now - timedelta(days=days) for table, days in kept_days(config).items()}
        if mode == "timescaledb":
            _timescale(conn, config, limits, report)
        else:
            _plain(conn, config, now, limits, report)
        if config.evidence_days is not None:
            with conn.transaction():
                gone = conn.execute(_EXPIRED_EVIDENCE, {"cutoff": now - timedelta(days=config.evidence_days)})
                report.evidence_deleted = sorted(row[0] for row in gone)
                if report.evidence_deleted:
                    conn.execute("INSERT INTO audit_log (action, subject, details) VALUES"
                                 " ('retention.evidence_deleted', 'evidence', jsonb_build_object('ids', %s::bigint[],"
                                 " 'evidence_days', %s))", (report.evidence_deleted, config.evidence_days))
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    report.seconds = round(time.perf_counter() - started, 3)
    _log(report)
    return report


def _plain(conn: psycopg.Connection, config: RetentionConfig, now: datetime, limits: dict[str, datetime],
           report: RetentionReport) -> None:
    today = now.astimezone(UTC).date()
    for table in RAW_TABLES:
        try:
            days = conn.execute(sql.SQL(_DAYS_TO_MAKE).format(default=sql.Identifier(f"{table}_default")),
                                {"today": today, "ahead": config.partitions_ahead_days,
                                 "cutoff": limits[table]}).fetchall()
            for (day,) in days:
                with conn.transaction():
                    made = conn.execute("SELECT hallwatch_day_partition(%s, %s)::text", (table, day)).fetchone()
                if made and made[0]:
                    report.partitions_made.append(made[0])
            for (partition,) in conn.execute(_EXPIRED, {"table": table, "cutoff": limits[table]}).fetchall():
                with conn.transaction():
                    rows = _estimated_rows(conn, partition)
                    conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(partition)))
                report.partitions_dropped[partition] = rows
            _delete_older(conn, f"{table}_default", "ts", limits[table], report)
        except psycopg.errors.LockNotAvailable:
            report.skipped.append(table)
    for table in (*KEPT_AS_ROLLUPS, *MINUTE_ROLLUPS, *COARSE_ROLLUPS):
        try:
            _delete_older(conn, table, "ts" if table in KEPT_AS_ROLLUPS else "bucket", limits[table], report)
        except psycopg.errors.LockNotAvailable:
            report.skipped.append(table)


def _estimated_rows(conn: psycopg.Connection, table: str) -> int:
    """Rows in a table about to be dropped, from a sample (exact below ~30,000 rows): counting them all would read
    a whole day of the province."""
    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
    row = conn.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", (table,)).fetchone()
    return max(0, round(row[0])) if row else 0


def _delete_older(conn: psycopg.Connection, table: str, column: str, cutoff: datetime,
                  report: RetentionReport) -> None:
    with conn.transaction():
        cur = conn.execute(sql.SQL("DELETE FROM {} WHERE {} < %s").format(sql.Identifier(table),
                                                                          sql.Identifier(column)), (cutoff,))
    if cur.rowcount:
        report.rows_deleted[table] = cur.rowcount


# -- TimescaleDB ------------------------------------------------------------------------------------------------

# A relation's policy of one kind (a continuous aggregate's jobs name the view).
_JOB = """
SELECT job_id, config FROM timescaledb_information.jobs
WHERE proc_name = %(proc)s AND hypertable_schema = current_schema() AND hypertable_name = %(relation)s
"""
_WIDTH = {"minute": "1 minute", "hour": "1 hour", "day": "1 day"}
_REFRESH_EVERY = {"minute": "5 minutes", "hour": "1 hour", "day": "1 day"}


def _timescale(conn: psycopg.Connection, config: RetentionConfig, limits: dict[str, datetime],
               report: RetentionReport) -> None:
    days = kept_days(config)
    for table in RAW_TABLES:
        _policy(conn, report, table, "policy_compression", "compress_after", f"{config.compress_after_days} days",
                "SELECT add_compression_policy(%(relation)s, compress_after => %(value)s::interval)",
                "SELECT remove_compression_policy(%(relation)s)")
    for table, kept in days.items():
        _policy(conn, report, table, "policy_retention", "drop_after", f"{kept} days",
                "SELECT add_retention_policy(%(relation)s, drop_after => %(value)s::interval)",
                "SELECT remove_retention_policy(%(relation)s)")
    for rollup in ROLLUPS:
        for level in rollup.levels:  # never back past what the source still keeps (less a day, for the jobs' timing)
            _policy(conn, report, level.target, "policy_refresh_continuous_aggregate", "start_offset",
                    f"{days[level.source] - 1} days",
                    "SELECT add_continuous_aggregate_policy(%(relation)s, start_offset => %(value)s::interval,"
                    f" end_offset => interval '{_WIDTH[level.width]}',"
                    f" schedule_interval => interval '{_REFRESH_EVERY[level.width]}',"
                    f" buckets_per_batch => {BUCKETS_PER_BATCH})",
                    "SELECT remove_continuous_aggregate_policy(%(relation)s)")
    for table in days:  # what is due now, so that the log says what went
        try:
            with conn.transaction():
                dropped = conn.execute("SELECT drop_chunks(%s, older_than => %s)", (table, limits[table])).fetchall()
        except psycopg.errors.LockNotAvailable:
            report.skipped.append(table)
            continue
        for (chunk,) in dropped:
            report.partitions_dropped[f"{table}: {chunk}"] = None


def _policy(conn: psycopg.Connection, report: RetentionReport, relation: str, proc: str, key: str, value: str,
            add: str, remove: str) -> None:
    """Make the policy `proc` of `relation` say `key` = `value` (an interval): added when missing, replaced when
    it says something else."""
    params = {"relation": relation, "value": value, "proc": proc}
    with conn.transaction():
        job = conn.execute(_JOB, params).fetchone()
        if job is not None:
            same = conn.execute("SELECT %s::interval = %s::interval", (job[1].get(key), value)).fetchone()
            if same and same[0]:
                return
            conn.execute(remove, params)
        conn.execute(add, params)
    report.policies.append(f"{relation}: {proc.removeprefix('policy_')} {key} {value}")


def _log(report: RetentionReport) -> None:
    for name, rows in report.partitions_dropped.items():
        log.info("retention: dropped %s%s", name, "" if rows is None else f" (about {rows:,} rows)")
    for table, rows in report.rows_deleted.items():
        log.info("retention: deleted %d rows from %s", rows, table)
    if report.evidence_deleted:
        log.info("retention: deleted %d evidence items (ids %s)", len(report.evidence_deleted),
                 report.evidence_deleted)
    for policy in report.policies:
        log.info("retention: TimescaleDB policy %s", policy)
    if report.partitions_made:
        log.info("retention: made partitions %s", ", ".join(report.partitions_made))
    if report.skipped:
        log.warning("retention: %s busy (lock wait over %s); tried again next run", ", ".join(report.skipped),
                    LOCK_TIMEOUT)


class RetentionScheduler:
    """Applies retention every `config.interval_s` seconds until stopped, on a connection of its own as the owner
    of the tables (`owner_dsn`: the migration DSN, `storage.Database.migration_dsn`); a failure is logged and the
    next run tries again. Run it in a thread: `threading.Thread(target=s.run, args=(stop,))`."""

    def __init__(self, owner_dsn: str, config: RetentionConfig, *, connect_timeout_s: float = 10.0) -> None:
        self.owner_dsn, self.config, self.connect_timeout_s = owner_dsn, config, connect_timeout_s
        self.last: RetentionReport | None = None
        self.failures = 0
        self.ticked = threading.Event()  # set after every run, successful or not

    def tick(self) -> RetentionReport | None:
        try:
            with psycopg.connect(self.owner_dsn, autocommit=True,
                                 connect_timeout=max(1, round(self.connect_timeout_s))) as conn:
                self.last = apply_retention(conn, self.config)
        except Exception as exc:  # an outage, a busy lock: the next run retries
            self.failures += 1
            log.warning("retention failed (will retry in %.0f s): %s", self.config.interval_s,
                        redact_text(str(exc)))
            return None
        finally:
            self.ticked.set()
        return self.last

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.tick()
            if stop.wait(self.config.interval_s):
                break
