"""`seed_history`: the phases of a demo history (people, samples, rollups, records) and the mark it leaves."""

from __future__ import annotations

import logging
import time as clock
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

import psycopg
from psycopg_pool import ConnectionPool

from core.config import SiteConfig
from models import Detector, load_detector
from pipeline.rows import Sample
from storage.auth.audit import audit
from storage.rollups import may_refresh, refresh_rollups, rollup_mode
from storage.samples import copy_samples
from tools.demo_history.camera import CameraSim
from tools.demo_history.cast import make_cast
from tools.demo_history.plan import plan_hall, timeline
from tools.demo_history.records import Records

log = logging.getLogger(__name__)

MARK = "demo.seed"  # the audit action that marks a seeded database
BATCH = 50_000  # samples per COPY transaction, as the writer's batches


def demo_seeded(conn: psycopg.Connection) -> bool:
    """Whether a demo history was seeded into this database."""
    return conn.execute("SELECT EXISTS (SELECT 1 FROM audit_log WHERE action = %s)", (MARK,)).fetchone() == (True,)


@dataclass
class SeedReport:
    days: int
    seed: int
    samples: int = 0
    events: int = 0
    complaints: int = 0
    inspections: int = 0
    cases: int = 0
    evidence: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # phase -> seconds taken


def seed_history(pool: ConnectionPool, site: SiteConfig, *, days: int = 30, seed: int = 7,
                 now: datetime | None = None, live_hours: float = 1.0, step_s: float | None = None,
                 detector: Detector | None = None) -> SeedReport:
    """Seed `days` of history ending at `now` (default: this second) into a migrated database holding the site
    (`sync_site`) and none of this history yet. `detector` blurs the evidence snapshots (default: the site's,
    loaded here). Samples come one per `step_s` by day (default: 15 s, at most the scorecards' `sample_hold_s`)."""
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")
    end = (now or datetime.now(UTC)).replace(microsecond=0)
    step = step_s or min(15.0, site.scorecards.sample_hold_s)
    tz = site.scorecards.tz
    first = end.astimezone(tz).date() - timedelta(days=days)
    report = SeedReport(days=days, seed=seed)
    phase = clock.perf_counter()

    def lap(name: str) -> None:
        nonlocal phase
        report.seconds[name] = round(clock.perf_counter() - phase, 3)
        phase = clock.perf_counter()

    with pool.connection() as conn:
        cast = make_cast(conn, site)
        plans = {hall.id: plan_hall(conn, site, hall, index, cast, first=first, end=end, seed=seed)
                 for index, hall in enumerate(site.halls)}
    lap("people")
    live_from = end.timestamp() - live_hours * 3600
    midnight = datetime.combine(first, time(), tz).timestamp()
    with pool.connection() as conn:
        for hall in site.halls:
            for camera in hall.cameras:
                sim = CameraSim(site, hall, camera, plans[hall.id], seed=seed)
                rows: list[Sample] = []
                for ts in timeline(midnight, end.timestamp(), plans[hall.id].busy, step=step, live_from=live_from):
                    rows += sim.step(ts)
                    if len(rows) >= BATCH:
                        copy_samples(conn, rows)
                        report.samples, rows = report.samples + len(rows), []
                rows += sim.finish(end.timestamp())
                copy_samples(conn, rows)
                report.samples += len(rows)
                report.events += sim.events
    lap("samples")
    with pool.connection() as conn:
        records = Records(conn, site, cast, plans, start=midnight, end=end, seed=seed,
                          detector=detector if detector is not None else load_detector(site.detector))
        records.seed_all()
        report.complaints, report.inspections = records.complaints, records.inspections
        report.cases, report.evidence = records.cases, records.evidence
    lap("records")
    with pool.connection() as conn:  # as storage.rollups.RollupScheduler does every minute in the service
        conn.autocommit = True
        if rollup_mode(conn) == "plain" or may_refresh(conn):
            refresh_rollups(conn)
        conn.autocommit = False
    lap("rollups")
    with pool.connection() as conn:  # last: a history that was stopped half-way is not marked as seeded
        audit(conn, user=None, action=MARK, subject="demo/history",
              details={"demo": True, "seed": seed, "days": days, "from": first.isoformat(), "until": end.isoformat(),
                       "samples": report.samples})
    log.info("demo history: %d days, %d samples, %d events, %d complaints, %d inspections, %d cases in %.1f s",
             days, report.samples, report.events, report.complaints, report.inspections, report.cases,
             sum(report.seconds.values()))
    return report
