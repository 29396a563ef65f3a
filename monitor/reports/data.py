"""The monthly report of one unit (a hall, a city or the province) as the user may see it: the scorecard (three
zeros, stars, presence) with the league table of the units inside, waits per local day, complaints, inspections
and their findings, and cases. The scorecard numbers are the scorecards' own (`monthly_scorecards`, turned into
rows as /api/v1/scorecards turns them); the rest is `storage.reports`, which applies the user's scope and the
covert rule in SQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Literal

import psycopg
from pydantic import BaseModel, Field

from analytics.kpi import Level
from core.config import SiteConfig
from monitor.api import ScoreRow, _score_row
from storage.auth.model import Scope, ScopeError, User
from storage.records.cases import CaseStatus
from storage.records.common import OutOfScope, RecordError, check_hall
from storage.records.complaints import Category, ComplaintStatus
from storage.records.inspections import FindingCategory, InspectionKind, Severity
from storage.records.scorecards import Month, Unstaffed, monthly_scorecards
from storage.reports import case_counts, complaint_counts, inspection_counts, waits_by_day

UnitLevel = Literal["province", "city", "hall"]
# The league tables a report of each level shows: the units inside it.
INSIDE: dict[str, tuple[Level, ...]] = {"province": (Level.city, Level.hall), "city": (Level.hall,),
                                        "hall": (Level.window,)}


class DayWait(BaseModel):
    day: date
    p50_s: float | None = Field(description="median wait of the day's queue minutes; null: no measurement")
    p90_s: float | None = Field(description="90th percentile of the day's queue minutes' 90th percentiles")
    served: int
    minutes: int = Field(description="queue minutes measured")


class MonthlyReport(BaseModel):
    """What a report shows, also its JSON form. Counts are keyed by the stored values (English identifiers)."""

    month: str
    level: UnitLevel
    unit_id: str | None = Field(description="the city or hall id; null for the province")
    name: str
    timezone: str
    generated_at: datetime
    until: datetime = Field(description="the report covers the month up to here: its end, or now")
    summary: ScoreRow | None = Field(description="the unit's scorecard; null when it has nothing to score")
    units: dict[str, list[ScoreRow]] = Field(description="level -> league table of the units inside")
    waits: list[DayWait] = Field(description="every day of the month up to `until`, in the site's time zone")
    complaints_by_status: dict[str, int]
    complaints_by_category: dict[str, int]
    inspections_by_kind: dict[str, int]
    findings_by_severity: dict[str, int]
    findings_by_category: dict[str, int]
    cases_by_status: dict[str, int] = Field(description="cases opened in the month, by status at `until`")
    cases_overdue: int = Field(description="cases opened in the month still open after their due date at `until`")
    wait_sla_s: float


def unit_of(conn: psycopg.Connection, site: SiteConfig, user: User, unit: str | None) -> Scope:
    """The unit a report is asked for, written as a scope path (`province`, `city/<id>`, `hall/<id>`; default:
    the user's own scope). A unit outside the user's scope is refused (OutOfScope), an unknown one or a bad path
    is a RecordError naming `unit`."""
    if unit is None:
        return user.scope
    try:
        chosen = Scope.parse(unit)
    except ScopeError as exc:
        raise RecordError(str(exc), field="unit") from None
    if chosen.kind == "hall":
        assert chosen.id is not None
        check_hall(conn, user, chosen.id, field="unit")
    elif chosen.kind == "city":
        if all(c.id != chosen.id for c in site.cities):
            raise RecordError(f"no city {chosen.id!r}", field="unit")
        if user.scope.kind != "province" and user.scope != chosen:
            raise OutOfScope(f"city {chosen.id!r} is outside your scope {user.scope.path}")
    elif user.scope.kind != "province":
        raise OutOfScope(f"the province is outside your scope {user.scope.path}")
    return chosen


def unit_name(site: SiteConfig, unit: Scope) -> str:
    """The name of a hall, a city or the province as the site file gives it."""
    if unit.kind == "hall":
        return next((h.name for h in site.halls if h.id == unit.id), str(unit.id))
    if unit.kind == "city":
        return next((c.name for c in site.cities if c.id == unit.id), str(unit.id))
    return site.province.name


def unit_scorecard(conn: psycopg.Connection, site: SiteConfig, *, month: Month, unit: Scope) -> ScoreRow | None:
    """The unit's own scorecard of `month` (the first row of a report), None when it has nothing to score. The
    scorecards count a covert visit's findings only once published, so this row hints at no covert plan."""
    cards = monthly_scorecards(conn, scope=unit, month=month, config=site.scorecards)
    level = Level(unit.kind)
    row = next(iter(cards.table(level)), None)
    if row is None:
        return None
    return _score_row(row, level, cards, {h.id: h for h in site.halls}, {c.id: c.name for c in site.cities},
                      site.province.name, cards.unstaffed_at(level).get(row.key, Unstaffed()))


def _filled(found: dict[str, int], values: list[str]) -> dict[str, int]:
    return {v: found.get(v, 0) for v in values} | {k: n for k, n in found.items() if k not in values}


def build_report(conn: psycopg.Connection, site: SiteConfig, user: User, *, month: Month, unit: Scope,
                 now: datetime | None = None) -> MonthlyReport:
    """The report of `month` for `unit` (which `unit_of` has checked against the user's scope)."""
    level: UnitLevel = unit.kind
    unit_id = unit.id
    config = site.scorecards
    tz = config.tz
    now = now or datetime.now(UTC)
    span = month.span(tz)
    since, end = datetime.fromtimestamp(span.start, UTC), datetime.fromtimestamp(span.end, UTC)
    until = min(end, max(now, since))
    cards = monthly_scorecards(conn, scope=unit, month=month, config=config)
    halls_by_id = {h.id: h for h in site.halls}
    cities = {c.id: c.name for c in site.cities}

    def rows(at: Level) -> list[ScoreRow]:
        unstaffed = cards.unstaffed_at(at)
        return [_score_row(row, at, cards, halls_by_id, cities, site.province.name, unstaffed.get(row.key, Unstaffed()))
                for row in cards.table(at)]

    own = rows(Level(level))
    summary = own[0] if own else None
    name = unit_name(site, unit)
    halls = sorted(cards.city_of)

    found_waits = {w.day: w for w in waits_by_day(conn, user=user, halls=halls, since=since, until=until,
                                                  timezone=config.timezone)}
    waits = []
    day, last = month.first, (until - timedelta(microseconds=1)).astimezone(tz).date()
    while day <= min(last, month.last):
        w = found_waits.get(day)
        waits.append(DayWait(day=day, p50_s=w.p50_s if w else None, p90_s=w.p90_s if w else None,
                             served=w.served if w else 0, minutes=w.minutes if w else 0))
        day += timedelta(days=1)

    complaints = complaint_counts(conn, user=user, halls=halls, since=since, until=until)
    by_status: dict[str, int] = {}
    by_category: dict[str, int] = {}
    for (status, category), n in complaints.items():
        by_status[status] = by_status.get(status, 0) + n
        by_category[category] = by_category.get(category, 0) + n
    kinds, findings = inspection_counts(conn, user=user, halls=halls, since=since, until=until)
    by_severity: dict[str, int] = {}
    by_finding_category: dict[str, int] = {}
    for (severity, category), n in findings.items():
        by_severity[severity] = by_severity.get(severity, 0) + n
        by_finding_category[category] = by_finding_category.get(category, 0) + n
    cases, overdue = case_counts(conn, user=user, halls=halls, since=since, until=until, cutoff=until)

    return MonthlyReport(
        month=str(month), level=level, unit_id=unit_id, name=name, timezone=config.timezone, generated_at=now,
        until=until, summary=summary, units={at.value: rows(at) for at in INSIDE[level]}, waits=waits,
        complaints_by_status=_filled(by_status, [s.value for s in ComplaintStatus]),
        complaints_by_category=_filled(by_category, [c.value for c in Category]),
        inspections_by_kind=_filled(kinds, [k.value for k in InspectionKind]),
        findings_by_severity=_filled(by_severity, [s.value for s in Severity]),
        findings_by_category=_filled(by_finding_category, [c.value for c in FindingCategory]),
        cases_by_status=_filled(cases, [s.value for s in CaseStatus]), cases_overdue=overdue,
        wait_sla_s=config.wait_sla_s)
