"""Listing covert plans is a sensitive read, in the storage layer against a real PostgreSQL: a list of
inspections that shows covert plans not yet published appends one audit row (`inspection.list_covert`) naming
the plans it showed; a list showing none appends nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from storage.auth.model import Role, Scope, User
from storage.auth.users import create_user
from storage.records.inspections import (
    InspectionCreate,
    InspectionKind,
    InspectionStatus,
    VisitRecord,
    create_inspection,
    list_inspections,
    record_visit,
    set_status,
)

HALL = "cc-nanguan"


@pytest.fixture
def cast(conn: psycopg.Connection) -> dict[str, User]:
    return {name: create_user(conn, name=name, role=Role(role), scope=Scope.parse(scope),
                              password="correct horse battery")
            for name, role, scope in [("insp", "inspector", "city/cc"), ("cityboss", "manager", "city/cc"),
                                      ("hallboss", "manager", f"hall/{HALL}"), ("staff", "hall_staff", f"hall/{HALL}")]}


def plan(conn: psycopg.Connection, insp: User, *, covert: bool, days: int, hall: str = HALL) -> int:
    return create_inspection(conn, user=insp, data=InspectionCreate(
        kind=InspectionKind.secret_shopper if covert else InspectionKind.spot_check, hall_id=hall, covert=covert,
        planned_at=datetime.now(UTC) + timedelta(days=days), inspector="third party"))


def list_audits(conn: psycopg.Connection) -> list[tuple[str, str, list[int]]]:
    rows = conn.execute("SELECT user_name, subject, details->'ids' FROM audit_log"
                        " WHERE action = 'inspection.list_covert' ORDER BY id")
    return [(r[0], r[1], r[2]) for r in rows]


def test_one_audit_row_per_list_that_shows_covert_plans(conn: psycopg.Connection, cast: dict[str, User]) -> None:
    insp, cityboss = cast["insp"], cast["cityboss"]
    first = plan(conn, insp, covert=True, days=1)
    announced = plan(conn, insp, covert=False, days=2)
    second = plan(conn, insp, covert=True, days=3, hall="cc-chaoyang")

    rows, total = list_inspections(conn, user=cityboss)  # newest plan first
    assert [r["id"] for r in rows] == [second, announced, first] and total == 3
    assert list_audits(conn) == [("cityboss", "inspection/list", [second, first])]  # one row, not one per plan

    list_inspections(conn, user=insp, limit=1, offset=1)  # a page without covert plans: nothing to audit
    list_inspections(conn, user=insp, covert=False)
    assert len(list_audits(conn)) == 1
    list_inspections(conn, user=insp, limit=1, offset=2)  # only the plans the page shows are named
    assert list_audits(conn)[1:] == [("insp", "inspection/list", [first])]


def test_no_audit_row_when_no_covert_plan_is_shown(conn: psycopg.Connection, cast: dict[str, User]) -> None:
    insp = cast["insp"]
    covert = plan(conn, insp, covert=True, days=1)
    plan(conn, insp, covert=False, days=2)
    for user in (cast["hallboss"], cast["staff"]):  # the checked hall sees no covert plan: nothing to audit
        rows, _ = list_inspections(conn, user=user)
        assert covert not in [r["id"] for r in rows]
    assert list_audits(conn) == []

    record_visit(conn, user=insp, inspection_id=covert, visit=VisitRecord(carried_out_at=datetime.now(UTC)))
    list_inspections(conn, user=insp)  # carried out, not yet published: still covert
    assert list_audits(conn) == [("insp", "inspection/list", [covert])]
    set_status(conn, user=insp, inspection_id=covert, to=InspectionStatus.published)
    rows, _ = list_inspections(conn, user=cast["staff"])  # published: no longer a secret, no longer audited
    assert covert in [r["id"] for r in rows]
    list_inspections(conn, user=insp)
    assert len(list_audits(conn)) == 1
