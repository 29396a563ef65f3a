"""Sending a month's reports through the notification channels (`notify:` in the site file): for each chosen
channel and each unit its scopes name (`province`, `city/<id>`, `hall/<id>`), one message in the channel's
language with the unit's scorecard and the links to download the report as PDF and as Excel.

The message carries no file and no count of inspections or cases: a channel is a group chat or a mailbox whose
readers the app does not know, so it says only what anyone of the unit may know (the scorecard, which counts a
covert visit's findings only once published) and links to the downloads, where the reader logs in and gets the
report their own scope and role allow (monitor/routes/reports.py). A failed delivery is reported, audited
(`report.send`, error text with the channel's secrets masked) and may be sent again with `--channel`; quiet hours
do not apply (the sending is asked for, not an alert)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

import psycopg

from core.config import SiteConfig
from core.config.notify import ChannelConfig, NotifyConfig
from core.errors import ConfigError
from core.i18n import N_
from monitor.i18n import gettext_for
from monitor.labels import label_text
from monitor.notify.channels import DeliveryError, mask, send
from monitor.notify.messages import Message
from monitor.reports.data import unit_name, unit_scorecard
from storage.auth.audit import audit
from storage.auth.model import Scope
from storage.records.scorecards import Month

MESSAGE_TITLE = N_("Monthly report: %(unit)s, %(month)s")
DOWNLOAD_PDF = N_("Download the PDF")
EXCEL = N_("Excel")
NOTHING_SCORED = N_("Nothing to score this month")
SCORE = N_("Score")
STARS = N_("Stars")
THREE_ZEROS = N_("Three zeros")
OVERTIME = N_("Overtime")
ERRORS = N_("Errors")
COMPLAINTS_UPHELD = N_("Complaints upheld")
PRESENCE = N_("Presence")
YES = N_("Yes")
NO = N_("No")


@dataclass(frozen=True)
class Delivery:
    channel_id: str
    unit: str  # scope path
    error: str | None  # None: delivered; else the reason, secrets masked


def previous_month(site: SiteConfig, now: datetime) -> Month:
    """The month before `now`'s, in the site's time zone: what a report sent at the start of a month covers."""
    local = now.astimezone(site.scorecards.tz)
    return Month(local.year - 1, 12) if local.month == 1 else Month(local.year, local.month - 1)


def download_link(base_url: str, *, month: Month, unit: Scope, fmt: str) -> str:
    query = urlencode({"month": str(month), "unit": unit.path, "format": fmt})
    return f"{base_url.rstrip('/')}/reports/monthly?{query}"


def chosen_channels(notify: NotifyConfig, names: list[str] | None) -> list[ChannelConfig]:
    """The channels named (each must exist and be enabled), or by default every enabled channel that carries
    every alert kind (a channel limited to some kinds is a specialist's: it gets reports only when named)."""
    enabled = {c.id: c for c in notify.channels if c.enabled}
    if not names:
        return [c for c in enabled.values() if not c.kinds]
    unknown = [n for n in names if n not in enabled]
    if unknown:
        raise ConfigError(f"no enabled notification channel {unknown[0]!r} (channels: {', '.join(enabled) or 'none'})")
    return [enabled[n] for n in dict.fromkeys(names)]


def compose_report(conn: psycopg.Connection, site: SiteConfig, *, month: Month, unit: Scope, locale: str,
                   base_url: str) -> Message:
    """The message announcing `unit`'s report of `month`, in `locale`."""
    def _(text: str, **values: object) -> str:
        return gettext_for(locale, text, **values)

    name = unit_name(site, unit)
    card = unit_scorecard(conn, site, month=month, unit=unit)
    pdf, xlsx = (download_link(base_url, month=month, unit=unit, fmt=fmt) for fmt in ("pdf", "xlsx"))
    lines = [(_(label_text(unit.kind, "level")), name)]
    data: dict[str, object] = {"kind": "monthly_report", "month": str(month), "unit": unit.path, "level": unit.kind,
                               "name": name, "pdf_url": pdf, "xlsx_url": xlsx, "scorecard": None}
    if card is None:
        lines.append((_(SCORE), _(NOTHING_SCORED)))
    else:
        presence = "–" if card.presence is None else f"{100 * card.presence:.1f}%"
        lines += [(_(SCORE), "–" if card.score is None else f"{card.score:.1f}"), (_(STARS), f"{card.stars} / 5"),
                  (_(THREE_ZEROS), _(YES) if card.three_zeros else _(NO)), (_(OVERTIME), str(card.overtime)),
                  (_(ERRORS), str(card.errors)), (_(COMPLAINTS_UPHELD), str(card.complaints)),
                  (_(PRESENCE), presence)]
        data["scorecard"] = {"score": card.score, "stars": card.stars, "three_zeros": card.three_zeros,
                             "overtime": card.overtime, "errors": card.errors, "complaints": card.complaints,
                             "presence": card.presence, "windows": card.windows}
    lines.append((_(EXCEL), xlsx))
    return Message(title=_(MESSAGE_TITLE, unit=name, month=str(month)), lines=lines, link=pdf,
                   link_text=_(DOWNLOAD_PDF), locale=locale, data=data)


def send_reports(conn: psycopg.Connection, site: SiteConfig, *, month: Month, notify: NotifyConfig | None = None,
                 channels: list[str] | None = None) -> list[Delivery]:
    """Send `month`'s report of every unit each chosen channel covers; one Delivery per message, in order.
    Each attempt is audited in `conn`'s transaction."""
    config = notify if notify is not None else site.notify
    if not config.base_url:
        raise ConfigError("notify.base_url is needed for the reports' download links")
    out: list[Delivery] = []
    for channel in chosen_channels(config, channels):
        locale = channel.locale or site.province.locale
        for path in channel.scopes:
            unit = Scope.parse(path)
            error: str | None = None
            try:
                message = compose_report(conn, site, month=month, unit=unit, locale=locale, base_url=config.base_url)
                send(channel, message, timeout=config.timeout_s, now_ms=int(time.time() * 1000))
            except DeliveryError as exc:
                error = str(exc)
            except Exception as exc:  # noqa: BLE001 - one channel's failure must not stop the others
                error = mask(f"{type(exc).__name__}: {exc}", channel)
            audit(conn, user=None, action="report.send", subject=f"report/{unit.path}/{month}",
                  details={"channel": channel.id, "kind": channel.kind.value, "target": channel.safe_target,
                           "error": error})
            out.append(Delivery(channel.id, unit.path, error))
    return out
