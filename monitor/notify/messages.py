"""What a notification says, in the site's language (or the channel's): the alert's kind, hall, window, queue or
camera, when it started (and ended) in the site's time zone, and a link to it on the alerts page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime

from core.config import SiteConfig
from core.i18n import N_
from monitor.i18n import gettext_for
from monitor.labels import label_text
from storage.notifications import Claimed

_CAMERA_KINDS = ("camera_offline", "camera_obstructed", "camera_moved")


@dataclass(frozen=True)
class Message:
    title: str
    lines: list[tuple[str, str]]  # (label, value)
    link: str
    link_text: str
    locale: str
    data: dict[str, object] = field(default_factory=dict)  # the alert as data, for the generic webhook

    def text(self) -> str:
        body = [self.title, ""] + [f"{name}: {value}" for name, value in self.lines]
        return "\n".join(body + ["", f"{self.link_text}: {self.link}"])

    def markdown(self) -> str:
        body = [f"### {self.title}"] + [f"- **{name}**: {value}" for name, value in self.lines]
        return "\n".join(body + ["", f"[{self.link_text}]({self.link})"])


def _when(value: datetime, zone: ZoneInfo, locale: str) -> str:
    return format_datetime(value, format="yyyy-MM-dd HH:mm", tzinfo=zone, locale=Locale.parse(locale))


def alert_link(base_url: str, hall_id: str, alert_id: str) -> str:
    """The alerts page filtered to the hall, scrolled to the alert (alerts.js honours the fragment)."""
    return f"{base_url.rstrip('/')}/alerts?{urlencode({'hall_id': hall_id})}#{quote('alert-' + alert_id, safe='')}"


def compose(site: SiteConfig, item: Claimed, *, locale: str, base_url: str) -> Message:
    """The message for a claimed notification."""
    def _(text: str, **values: object) -> str:
        return gettext_for(locale, text, **values)

    hall = next((h for h in site.halls if h.id == item.hall_id), None)
    kind = _(label_text(item.kind, "alert_kind"))
    hall_name = item.hall_name
    title = (_(N_("Alert: %(kind)s, %(hall)s"), kind=kind, hall=hall_name) if item.change == "opened"
             else _(N_("Alert ended: %(kind)s, %(hall)s"), kind=kind, hall=hall_name))
    camera_id = item.subject if item.kind in _CAMERA_KINDS else item.camera_id  # a camera's alert is about itself
    camera = next((c for c in hall.cameras if c.id == camera_id), None) if hall else None
    camera_name = camera.name if camera is not None and camera.name else camera_id
    lines = [(_(N_("Hall")), hall_name)]
    subject = item.subject
    if item.kind == "unstaffed_while_waiting":
        window = next((w for w in hall.windows if w.id == item.subject), None) if hall else None
        subject = window.name if window is not None else item.subject
        lines.append((_(N_("Window")), subject))
    elif item.kind not in _CAMERA_KINDS:
        lines.append((_(N_("Queue")), subject))
    lines.append((_(N_("Camera")), camera_name))
    zone = site.scorecards.tz
    lines.append((_(N_("Started")), _when(item.ts, zone, locale)))
    if item.change == "closed" and item.ended_at is not None:
        lines.append((_(N_("Ended")), _when(item.ended_at, zone, locale)))
    link = alert_link(base_url, item.hall_id, item.alert_id)
    data: dict[str, object] = {
        "id": item.alert_id, "change": item.change, "kind": item.kind, "kind_name": kind, "hall_id": item.hall_id,
        "hall_name": hall_name, "city_id": item.city_id, "subject": item.subject, "subject_name": subject,
        "camera_id": camera_id, "camera_name": camera_name,
        "started_at": item.ts.astimezone(UTC).isoformat(),
        "ended_at": item.ended_at.astimezone(UTC).isoformat() if item.ended_at is not None else None,
        "url": link}
    return Message(title=title, lines=lines, link=link, link_text=_(N_("Open the alert")), locale=locale, data=data)

