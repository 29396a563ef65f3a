"""The dispatcher: watches new alerts (openings and closings) and sends each once per channel.

Every web process runs one (hallwatch/service.py); they coordinate through the database only
(`storage.notifications`): a change is queued once per channel whatever the number of dispatchers, and a queued
message is taken by one dispatcher at a time under a lease. A failed delivery is tried again after an exponential
backoff (`notify.retry`) until its attempts run out; each attempt is in the delivery log with its error, secrets
masked. Quiet hours are judged on the time the alert opened or closed, in the site's time zone; alerts in them
are logged as suppressed. A message whose sender died mid-delivery is sent again once its lease ends, so a crash
at the wrong moment may repeat one message: never lose one."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from psycopg_pool import ConnectionPool

from core.config import SiteConfig
from core.config.notify import ChannelConfig, NotifyConfig
from core.errors import ConfigError
from monitor.notify.channels import DeliveryError, mask, send
from monitor.notify.messages import compose
from storage.notifications import Claimed, Route, claim_due, finish_attempt, new_changes, queue_change

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def route_of(site: SiteConfig, channel: ChannelConfig) -> Route:
    """The channel's scopes as a route; a scope naming a city or hall the site does not have is a ConfigError."""
    cities = {c.id for c in site.cities}
    halls = {h.id for h in site.halls}
    everywhere, in_cities, in_halls = False, [], []
    for scope in channel.scopes:
        kind, _, ident = scope.partition("/")
        if kind == "province":
            everywhere = True
        elif kind == "city":
            if ident not in cities:
                raise ConfigError(f"notify.channels[{channel.id}].scopes: no city {ident!r} in the site")
            in_cities.append(ident)
        else:
            if ident not in halls:
                raise ConfigError(f"notify.channels[{channel.id}].scopes: no hall {ident!r} in the site")
            in_halls.append(ident)
    return Route(channel.id, everywhere, tuple(in_cities), tuple(in_halls), tuple(channel.kinds), channel.on_close)


class Dispatcher:
    """`run(stop)` in a thread of each web process; `tick()` does one round (the tests drive it)."""

    def __init__(self, site: SiteConfig, pool: ConnectionPool, *, notify: NotifyConfig | None = None,
                 worker: str | None = None, clock: Clock = _utcnow, lease_s: float | None = None) -> None:
        config = notify if notify is not None else getattr(site, "notify", None)
        self.site = site
        self.config = config if config is not None else NotifyConfig()
        self.pool = pool
        self.channels = {c.id: c for c in self.config.channels if c.enabled}
        self.routes = [route_of(site, c) for c in self.channels.values()]
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"
        self.clock = clock
        # a delivery is bounded by the timeout (SMTP: per step): the lease outlasts a slow one several times over
        self.lease_s = lease_s if lease_s is not None else max(60.0, 6 * self.config.timeout_s)
        self.sent = 0
        self.failed = 0

    def run(self, stop: threading.Event) -> None:
        if not self.channels:
            return
        log.info("notifications: %d channel(s): %s", len(self.channels),
                 ", ".join(f"{c.id} ({c.kind.value} {c.safe_target})" for c in self.channels.values()))
        while not stop.is_set():
            try:
                self.tick()
            except Exception as exc:  # noqa: BLE001 - a database outage must not end the thread
                log.warning("notifications: %s; trying again in %.0f s", mask_all(str(exc), self.channels),
                            self.config.poll_s)
            stop.wait(self.config.poll_s)

    def tick(self) -> int:
        """Queue the new alert changes, then send what is due; the number of messages attempted."""
        self.queue_new()
        done = 0
        while True:
            with self.pool.connection() as conn:
                claimed = claim_due(conn, channels=list(self.channels), worker=self.worker, now=self.clock(),
                                    lease_s=self.lease_s)
            if not claimed:
                return done
            for item in claimed:
                self.deliver(item)
                done += 1

    def queue_new(self) -> int:
        now = self.clock()
        since = now - timedelta(seconds=self.config.max_age_s)
        queued = 0
        with self.pool.connection() as conn:
            for route in self.routes:
                quiet = self.config.quiet_for(self.channels[route.channel_id])
                for change in new_changes(conn, route=route, since=since, now=now):
                    local = change.at.astimezone(self.site.scorecards.tz).time()
                    held = quiet is not None and quiet.holds(local, change.kind)
                    reason = f"quiet hours {quiet.start:%H:%M}-{quiet.end:%H:%M}" if held and quiet else None
                    if queue_change(conn, channel_id=route.channel_id, change=change, now=now,
                                    suppressed_because=reason) is not None:
                        queued += 1
        return queued

    def deliver(self, item: Claimed) -> None:
        channel = self.channels[item.channel_id]
        locale = channel.locale or self.site.province.locale
        error: str | None = None
        try:
            message = compose(self.site, item, locale=locale, base_url=self.config.base_url or "")
            send(channel, message, timeout=self.config.timeout_s, now_ms=int(time.time() * 1000))
        except DeliveryError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - one bad message must not stop the others
            error = mask(f"{type(exc).__name__}: {exc}", channel)
        now = self.clock()
        retry = self.config.retry
        retry_at = (now + timedelta(seconds=retry.delay(item.attempts))
                    if error is not None and item.attempts < retry.attempts else None)
        with self.pool.connection() as conn:
            finish_attempt(conn, notification_id=item.id, attempt=item.attempts, worker=self.worker, now=now,
                           error=error, retry_at=retry_at)
        if error is None:
            self.sent += 1
            log.debug("notification %d (%s %s) sent to %s", item.id, item.alert_id, item.change, channel.id)
        else:
            self.failed += 1
            log.warning("notification %d (%s %s) to %s, attempt %d: %s%s", item.id, item.alert_id, item.change,
                        channel.id, item.attempts, error, "; will retry" if retry_at else "; given up")


def mask_all(text: str, channels: dict[str, ChannelConfig]) -> str:
    for channel in channels.values():
        text = mask(text, channel)
    return text
