"""What the pages call the system's stored values (states, kinds, roles): `{{ value | label("role") }}`
shows the value's name in the reader's language. The values themselves stay English identifiers in the
database and the API."""

from __future__ import annotations

from core.i18n import N_

LABELS: dict[str, dict[str, str]] = {
    "role": {
        "admin": N_("Administrator"), "center_operator": N_("Center operator"), "inspector": N_("Inspector"),
        "manager": N_("Manager"), "complaints_officer": N_("Complaints officer"), "hall_staff": N_("Hall staff"),
    },
    "scope": {"province": N_("Province"), "city": N_("City"), "hall": N_("Hall")},
    "level": {"province": N_("Province"), "city": N_("City"), "hall": N_("Hall"), "window": N_("Window")},
    "weekday": {"1": N_("Monday"), "2": N_("Tuesday"), "3": N_("Wednesday"), "4": N_("Thursday"), "5": N_("Friday"),
                "6": N_("Saturday"), "7": N_("Sunday")},
    "alert_kind": {
        "unstaffed_while_waiting": N_("Window unstaffed while people wait"),
        "queue_over_limit": N_("Queue too long"), "wait_over_sla": N_("Wait over the limit"),
        "camera_offline": N_("Camera offline"), "camera_obstructed": N_("Camera obstructed"),
        "camera_moved": N_("Camera moved"),
    },
    "alert_state": {"open": N_("Open"), "closed": N_("Closed")},
    "case_source": {"finding": N_("Inspection finding"), "complaint": N_("Complaint"), "event": N_("Alert")},
    "case_status": {"open": N_("Open"), "rectified": N_("Rectified"), "verified": N_("Verified"),
                    "closed": N_("Closed")},
    "channel": {"hotline": N_("Hotline"), "web": N_("Website"), "in_person": N_("In person"), "letter": N_("Letter")},
    "complaint_category": {"attitude": N_("Attitude"), "delay": N_("Delay"), "error": N_("Error"),
                           "discipline": N_("Discipline"), "environment": N_("Environment"), "other": N_("Other")},
    "complaint_status": {"received": N_("Received"), "assigned": N_("Assigned"), "in_progress": N_("In progress"),
                         "resolved": N_("Resolved"), "closed": N_("Closed"), "rejected": N_("Rejected")},
    "inspection_kind": {"spot_check": N_("Spot check"), "secret_shopper": N_("Secret shopper"),
                        "cross_inspection": N_("Cross inspection"), "social_supervisor": N_("Social supervisor")},
    "inspection_status": {"planned": N_("Planned"), "carried_out": N_("Carried out"), "published": N_("Published"),
                          "cancelled": N_("Cancelled")},
    "severity": {"low": N_("Low"), "medium": N_("Medium"), "high": N_("High"), "critical": N_("Critical")},
    "finding_category": {"error": N_("Error"), "attitude": N_("Attitude"), "discipline": N_("Discipline"),
                         "absence": N_("Absence"), "environment": N_("Environment"), "process": N_("Process"),
                         "other": N_("Other")},
    "camera_state": {"connecting": N_("Connecting"), "live": N_("Live"), "stalled": N_("Stalled"),
                     "offline": N_("Offline"), "unauthorized": N_("Wrong credentials"), "bad_stream": N_("Bad stream")},
    "evidence_source": {"camera": N_("Camera snapshot"), "upload": N_("Photo")},
    "hall_size": {"large": N_("large hall"), "medium": N_("medium hall"), "small": N_("small hall")},
    "hall_flow": {"one_window_quick": N_("one-window service"), "precheck_assisted": N_("assisted pre-check"),
                  "self_service_first": N_("self-service first")},
    "marker_kind": {"complaint": N_("Complaint"), "inspection": N_("Inspection"), "finding": N_("Finding")},
    "zone_kind": {"desk": N_("Desk"), "queue": N_("Queue"), "self_service": N_("Self-service")},
    "duty": {"staffed": N_("Staffed"), "unstaffed": N_("Not staffed"), "closed": N_("Closed"),
             "unknown": N_("Unknown")},
    "desk_state": {"present": N_("Staffed"), "absent": N_("Unstaffed"), "unknown": N_("Unknown")},
    "absence_reason": {"training": N_("Training"), "leave": N_("Leave"), "leader_duty": N_("Leader duty")},
    "decode_mode": {"full": N_("Every frame"), "keyframes": N_("Keyframes only"),
                    "sparse": N_("Frames up to each analysis")},
}


def label_text(value: object, group: str) -> str:
    """The English name of `value` in `group` (the message id to translate); an unknown value as it is."""
    text = str(value.value if hasattr(value, "value") else value)
    return LABELS.get(group, {}).get(text, text)
