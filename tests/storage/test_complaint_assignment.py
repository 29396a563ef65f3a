"""Assigning a complaint, in the storage layer against a real PostgreSQL: the assignee must be able to act on
it (an active user whose scope covers the complaint's hall, in a role complaints are assigned to), on the
first assignment and on every hand-over; a refused one changes nothing."""

from __future__ import annotations

import psycopg
import pytest

from storage.auth.model import Role, Scope, User
from storage.auth.users import create_user
from storage.records.common import WorkflowError
from storage.records.complaints import (
    Category,
    Channel,
    ComplaintCreate,
    ComplaintStatus,
    Transition,
    change_status,
    create_complaint,
    get_complaint,
)
from tests.fix_sites import SITE

HALL = "cc-nanguan"  # hall A, in city cc; cc-chaoyang is hall B in the same city, jlc-chuanying another city
CAST = {  # name: (role, scope)
    "desk": ("complaints_officer", "province"), "hallboss": ("manager", f"hall/{HALL}"),
    "cityboss": ("manager", "city/cc"), "deskjl": ("complaints_officer", "city/jlc"),
    "bstaff": ("hall_staff", "hall/cc-chaoyang"), "bboss": ("manager", "hall/cc-chaoyang"),
    "staff": ("hall_staff", f"hall/{HALL}"), "insp": ("inspector", "province"), "op": ("center_operator", "city/cc"),
    "gone": ("complaints_officer", "province"),
}

# (assignee, why they are refused)
REFUSED = [
    ("bstaff", "cannot see hall 'cc-nanguan'"),   # the finding: hall B's staff, who then got 404 on it
    ("bboss", "cannot see hall 'cc-nanguan'"),    # hall B's manager
    ("deskjl", "cannot see hall 'cc-nanguan'"),   # another city's complaints desk
    ("gone", "no active user 'gone'"),            # disabled
    ("ghost", "no active user 'ghost'"),          # no such user
    ("staff", "is hall_staff"),                   # hall A's staff: the officers complaints are about
    ("insp", "is inspector"),
    ("op", "is center_operator"),
]


@pytest.fixture
def cast(conn: psycopg.Connection) -> dict[str, User]:
    users = {name: create_user(conn, name=name, role=Role(role), scope=Scope.parse(scope),
                               password="correct horse battery") for name, (role, scope) in CAST.items()}
    conn.execute("UPDATE app_user SET active = false WHERE name = 'gone'")
    return users


def new_complaint(conn: psycopg.Connection, desk: User) -> int:
    return create_complaint(conn, user=desk, config=SITE.records, data=ComplaintCreate(
        hall_id=HALL, channel=Channel.hotline, category=Category.attitude, summary="rude at window 2"))


def assign(conn: psycopg.Connection, desk: User, complaint_id: int, assignee: str) -> dict:
    return change_status(conn, user=desk, complaint_id=complaint_id,
                         change=Transition(to=ComplaintStatus.assigned, assignee=assignee))


def test_assignment_refused_to_whoever_cannot_act_on_the_complaint(conn: psycopg.Connection,
                                                                   cast: dict[str, User]) -> None:
    desk = cast["desk"]
    complaint_id = new_complaint(conn, desk)
    for assignee, why in REFUSED:
        with pytest.raises(WorkflowError, match=why) as refused:
            assign(conn, desk, complaint_id, assignee)
        assert refused.value.field == "assignee", assignee
        row = get_complaint(conn, user=desk, complaint_id=complaint_id)
        assert (row["status"], row["assignee"]) == ("received", None), assignee
        assert [s["to_status"] for s in row["steps"]] == ["received"], assignee
    for assignee in ("hallboss", "cityboss", "desk"):
        assert assign(conn, desk, complaint_id, assignee)["assignee"] == assignee
        get_complaint(conn, user=cast[assignee], complaint_id=complaint_id)  # they can see what they were given


def test_a_hand_over_is_checked_like_the_first_assignment(conn: psycopg.Connection, cast: dict[str, User]) -> None:
    desk = cast["desk"]
    complaint_id = new_complaint(conn, desk)
    assert assign(conn, desk, complaint_id, "hallboss")["status"] == "assigned"
    for assignee, why in REFUSED:
        with pytest.raises(WorkflowError, match=why):
            assign(conn, desk, complaint_id, assignee)  # assigned -> assigned: reassigning
        assert get_complaint(conn, user=desk, complaint_id=complaint_id)["assignee"] == "hallboss", assignee
    assert assign(conn, desk, complaint_id, "cityboss")["assignee"] == "cityboss"
    steps = get_complaint(conn, user=desk, complaint_id=complaint_id)["steps"]
    assert [s["to_status"] for s in steps] == ["received", "assigned", "assigned"]
