"""Separation of duties on cases, in the storage layer against a real PostgreSQL: the hall rectifies; verifying,
sending back and closing are taken from above the hall (city or province scope) and never by whoever made the
rectification; an owner is someone who can see the case (scope, active, a covert inspection published)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from storage.auth.model import Role, Scope, User
from storage.auth.users import create_user
from storage.records.cases import (
    CaseCreate,
    CaseStatus,
    CaseTransition,
    CaseUpdate,
    SourceKind,
    change_status,
    create_case,
    get_case,
    next_steps,
    update_case,
)
from storage.records.common import RecordError, StepForbidden
from storage.records.complaints import Category, Channel, ComplaintCreate, create_complaint
from storage.records.inspections import (
    FindingCategory,
    FindingCreate,
    InspectionCreate,
    InspectionKind,
    InspectionStatus,
    Severity,
    VisitRecord,
    add_finding,
    create_inspection,
    record_visit,
    set_status,
)
from tests.fix_sites import SITE

HALL = "cc-nanguan"  # in city cc
CAST = {  # name: (role, scope)
    "desk": ("complaints_officer", "province"), "staff": ("hall_staff", f"hall/{HALL}"),
    "hallboss": ("manager", f"hall/{HALL}"), "halladmin": ("admin", f"hall/{HALL}"),
    "citystaff": ("hall_staff", "city/cc"), "cityboss": ("manager", "city/cc"), "insp": ("inspector", "city/cc"),
    "boss": ("manager", "province"), "root": ("admin", "province"), "op": ("center_operator", "province"),
}


@pytest.fixture
def cast(conn: psycopg.Connection) -> dict[str, User]:
    return {name: create_user(conn, name=name, role=Role(role), scope=Scope.parse(scope),
                              password="correct horse battery") for name, (role, scope) in CAST.items()}


def new_case(conn: psycopg.Connection, cast: dict[str, User], **extra: object) -> int:
    complaint = create_complaint(conn, user=cast["desk"], config=SITE.records, data=ComplaintCreate(
        hall_id=HALL, channel=Channel.hotline, category=Category.attitude, summary="rude at window 2"))
    return create_case(conn, user=cast["desk"], config=SITE.records, data=CaseCreate(
        source_kind=SourceKind.complaint, source_ref=str(complaint), **extra))  # type: ignore[arg-type]


def step(conn: psycopg.Connection, user: User, case_id: int, to: str) -> str:
    """Take the step with what it needs; the case's status after it."""
    change = CaseTransition(to=CaseStatus(to), rectification="officer retrained", verification="checked on site",
                            note="did not hold")
    return str(change_status(conn, user=user, case_id=case_id, change=change)["status"])


def case_at(conn: psycopg.Connection, cast: dict[str, User], status: str) -> int:
    """A case of HALL rectified by its hall staff (and verified by a city inspector, for `verified`)."""
    case_id = new_case(conn, cast)
    step(conn, cast["staff"], case_id, "rectified")
    if status == "verified":
        step(conn, cast["insp"], case_id, "verified")
    return case_id


# (who, step, from status, allowed): the verifier's side is taken from above the hall only.
DUTIES = [
    ("hallboss", "verified", "rectified", False),   # the hall's manager does not verify the hall's work
    ("hallboss", "open", "rectified", False),
    ("hallboss", "closed", "verified", False),
    ("halladmin", "verified", "rectified", False),  # nor an administrator scoped to the hall
    ("halladmin", "closed", "verified", False),
    ("staff", "verified", "rectified", False),
    ("citystaff", "open", "rectified", False),      # hall staff anywhere
    ("cityboss", "verified", "rectified", True),
    ("cityboss", "open", "rectified", True),
    ("cityboss", "closed", "verified", True),
    ("insp", "verified", "rectified", True),
    ("op", "open", "rectified", True),
    ("boss", "closed", "verified", True),
    ("root", "verified", "rectified", True),
]


def test_only_someone_above_the_hall_verifies_sends_back_and_closes(conn: psycopg.Connection,
                                                                     cast: dict[str, User]) -> None:
    for who, to, start, allowed in DUTIES:
        case_id = case_at(conn, cast, start)
        offered = CaseStatus(to) in next_steps(cast[who], get_case(conn, user=cast[who], case_id=case_id))
        assert offered is allowed, (who, to)
        if allowed:
            assert step(conn, cast[who], case_id, to) == to, (who, to)
            continue
        with pytest.raises(StepForbidden, match=f"someone above hall {HALL}|role hall_staff"):
            step(conn, cast[who], case_id, to)
        assert get_case(conn, user=cast["root"], case_id=case_id)["status"] == start, (who, to)


def test_a_hall_manager_cannot_take_their_own_case_to_closed_alone(conn: psycopg.Connection,
                                                                  cast: dict[str, User]) -> None:
    """The finding as reproduced: hall A's manager moved hall A's case rectified -> verified -> closed."""
    case_id = new_case(conn, cast)
    hallboss = cast["hallboss"]
    assert step(conn, hallboss, case_id, "rectified") == "rectified"  # the hall rectifies: that is its part
    assert next_steps(hallboss, get_case(conn, user=hallboss, case_id=case_id)) == []
    with pytest.raises(StepForbidden, match="the hall may not verify its own case"):
        step(conn, hallboss, case_id, "verified")
    row = get_case(conn, user=hallboss, case_id=case_id)
    assert row["status"] == "rectified" and row["verification"] is None
    assert [s["to_status"] for s in row["steps"]] == ["open", "rectified"]


def test_nobody_verifies_their_own_rectification(conn: psycopg.Connection, cast: dict[str, User]) -> None:
    case_id = new_case(conn, cast, owner="op")
    assert step(conn, cast["root"], case_id, "rectified") == "rectified"
    with pytest.raises(StepForbidden, match="you made the rectification"):
        step(conn, cast["root"], case_id, "verified")
    assert CaseStatus.verified not in next_steps(cast["root"], get_case(conn, user=cast["root"], case_id=case_id))
    assert step(conn, cast["root"], case_id, "open") == "open"        # sending it back is no conflict
    assert step(conn, cast["op"], case_id, "rectified") == "rectified"  # the owner rectifies again
    with pytest.raises(StepForbidden, match="you made the rectification"):
        step(conn, cast["op"], case_id, "verified")
    assert step(conn, cast["root"], case_id, "verified") == "verified"  # the latest rectification was not root's
    assert step(conn, cast["root"], case_id, "closed") == "closed"


def test_an_owner_must_be_able_to_see_the_case(conn: psycopg.Connection, cast: dict[str, User]) -> None:
    insp = cast["insp"]
    covert = create_inspection(conn, user=insp, data=InspectionCreate(
        kind=InspectionKind.secret_shopper, hall_id=HALL, planned_at=datetime.now(UTC) + timedelta(days=1),
        inspector="third party", covert=True))
    finding = add_finding(conn, user=insp, inspection_id=covert, data=FindingCreate(
        category=FindingCategory.error, severity=Severity.medium, description="wrong fee charged"))
    covert_case = CaseCreate(source_kind=SourceKind.finding, source_ref=str(finding))
    for owner in ("staff", "hallboss"):  # the checked hall: the case would be a 404 to them
        with pytest.raises(RecordError, match=f"user '{owner}' cannot see this case") as refused:
            create_case(conn, user=insp, config=SITE.records, data=covert_case.model_copy(update={"owner": owner}))
        assert refused.value.field == "owner"
    case_id = create_case(conn, user=insp, config=SITE.records,
                          data=covert_case.model_copy(update={"owner": "cityboss"}))
    with pytest.raises(RecordError, match="user 'hallboss' cannot see this case"):
        update_case(conn, user=insp, case_id=case_id, change=CaseUpdate(owner="hallboss"))
    assert get_case(conn, user=insp, case_id=case_id)["owner"] == "cityboss"

    record_visit(conn, user=insp, inspection_id=covert, visit=VisitRecord(carried_out_at=datetime.now(UTC)))
    set_status(conn, user=insp, inspection_id=covert, to=InspectionStatus.published)
    assert update_case(conn, user=insp, case_id=case_id, change=CaseUpdate(owner="staff"))["owner"] == "staff"

    conn.execute("UPDATE app_user SET active = false WHERE name = 'hallboss'")  # disabled
    with pytest.raises(RecordError, match="no active user 'hallboss'") as disabled:
        update_case(conn, user=insp, case_id=case_id, change=CaseUpdate(owner="hallboss"))
    assert disabled.value.field == "owner"
