"""Notification channels for alerts (`notify:` in the site file; docs/notifications.md).

Each channel is a generic webhook (a JSON POST), an e-mail account (SMTP), or the webhook of a WeCom (企业微信)
or DingTalk (钉钉) group robot. A channel says which alerts it carries (scopes of the geography and alert kinds),
when it keeps quiet, and the dispatcher (`monitor.notify`) retries a failed delivery with exponential backoff.

Secrets (a robot's key in its URL, a DingTalk signing secret, a webhook's auth header, an SMTP password) may be
written as `${VAR}` to be read from the environment, as camera URLs are; they never appear in logs, errors or the
delivery log (`ChannelConfig.secrets` lists what to mask)."""

from __future__ import annotations

import os
import re
from datetime import time
from enum import StrEnum
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from core.config.base import ENV_REF, Id, Strict, unique

AlertKindName = Literal["unstaffed_while_waiting", "queue_over_limit", "wait_over_sla", "camera_offline",
                        "camera_obstructed", "camera_moved"]
_SCOPE = re.compile(r"^(province|(city|hall)/[a-z0-9][a-z0-9_-]{0,62})$")


class ChannelKind(StrEnum):
    webhook = "webhook"
    email = "email"
    wecom = "wecom"
    dingtalk = "dingtalk"


class SmtpSecurity(StrEnum):
    none = "none"
    starttls = "starttls"
    ssl = "ssl"


def from_env(value: str | None) -> str | None:
    """`${VAR}` references replaced by the environment; a variable that is not set is an error naming it."""
    if value is None:
        return None
    missing = [name for name in ENV_REF.findall(value) if name not in os.environ]
    if missing:
        raise ValueError(f"environment variable {missing[0]} is not set")
    return ENV_REF.sub(lambda m: os.environ[m.group(1)], value)


def url_without_secrets(url: str) -> str:
    """`https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…` -> `https://qyapi.weixin.qq.com/…`: a robot's URL
    carries its key in the query, some webhooks (Feishu, Slack) theirs in the path, a password may sit in the user
    information; the scheme, host and port are what a log needs."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
    except ValueError:
        return "***"
    rest = "/…" if parts.path not in ("", "/") or parts.query else ""
    return f"{parts.scheme}://{host}{rest}"


class QuietHours(Strict):
    """A daily span in the site's time zone (`scorecards.timezone`) in which a channel sends nothing; the alerts
    that open or close then are logged as `suppressed`, not sent later. `start` after `end` spans midnight."""

    start: time = Field(description="start of the quiet span, HH:MM in the site's time zone")
    end: time = Field(description="end of the quiet span (exclusive), HH:MM")
    bypass: list[AlertKindName] = Field(
        default_factory=list, description="critical alert kinds sent even in quiet hours")

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("quiet hours start and end at the same time")
        return self

    def holds(self, local: time, kind: str) -> bool:
        """Whether an alert of `kind` at wall-clock `local` is kept quiet."""
        if kind in self.bypass:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


class RetryConfig(Strict):
    attempts: int = Field(default=6, ge=1, le=50, description="tries per message before it is given up")
    first_delay_s: float = Field(default=10.0, gt=0, le=3600, description="wait before the first retry")
    factor: float = Field(default=2.0, ge=1.0, le=10.0, description="each wait is this many times the previous")
    max_delay_s: float = Field(default=900.0, gt=0, le=86400, description="longest wait between tries")

    def delay(self, failed_attempts: int) -> float:
        """Seconds to wait after the `failed_attempts`-th failure (1, 2, …)."""
        return min(self.max_delay_s, self.first_delay_s * self.factor ** (failed_attempts - 1))


class ChannelConfig(Strict):
    id: Id
    kind: ChannelKind
    enabled: bool = True
    scopes: list[str] = Field(default_factory=lambda: ["province"], min_length=1,
                              description="the alerts of these parts of the geography: province, city/<id>, "
                                          "hall/<id>")
    kinds: list[AlertKindName] = Field(default_factory=list, description="these alert kinds only; empty: all")
    on_close: bool = Field(default=True, description="also say when an alert that was sent has ended")
    quiet_hours: QuietHours | None = Field(default=None, description="this channel's quiet span; "
                                                                     "default: notify.quiet_hours")
    locale: Literal["zh_CN", "en"] | None = Field(default=None,
                                                  description="the messages' language; default: province.locale")
    # webhook, wecom, dingtalk
    url: str | None = Field(default=None, description="the webhook's URL (https://…); ${VAR} reads the environment")
    headers: dict[str, str] = Field(default_factory=dict,
                                    description="webhook: extra request headers (e.g. Authorization); ${VAR} "
                                                "reads the environment")
    secret: str | None = Field(default=None, description="dingtalk: the robot's signing secret (SEC…), for its "
                                                         "signed mode; ${VAR} reads the environment")
    # email
    host: str | None = Field(default=None, description="email: the SMTP server")
    port: int | None = Field(default=None, ge=1, le=65535, description="email: default 25, 587 with starttls, "
                                                                        "465 with ssl")
    security: SmtpSecurity = SmtpSecurity.starttls
    username: str | None = Field(default=None, description="email: SMTP login; ${VAR} reads the environment")
    password: str | None = Field(default=None, description="email: SMTP password; ${VAR} reads the environment")
    sender: str | None = Field(default=None, description="email: the From address")
    recipients: list[str] = Field(default_factory=list, description="email: the To addresses")
    ca_file: str | None = Field(default=None, description="email: the CA certificates (PEM) that vouch for the "
                                                          "server, when not the system's (a private CA)")

    @field_validator("url", "secret", "username", "password")
    @classmethod
    def _env(cls, value: str | None) -> str | None:
        return from_env(value)

    @field_validator("headers")
    @classmethod
    def _env_headers(cls, value: dict[str, str]) -> dict[str, str]:
        return {name: from_env(text) or "" for name, text in value.items()}

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: list[str]) -> list[str]:
        for scope in value:
            if not _SCOPE.match(scope):
                raise ValueError(f"scope {scope!r}: use province, city/<city_id> or hall/<hall_id>")
        return value

    @model_validator(mode="after")
    def _complete(self) -> ChannelConfig:
        web = self.kind is not ChannelKind.email
        if web:
            if not self.url or not re.match(r"^https?://[^/\s]+", self.url):
                raise ValueError(f"a {self.kind.value} channel needs an http(s) `url`")
            if self.host or self.recipients or self.password or self.username or self.sender:
                raise ValueError(f"a {self.kind.value} channel has no SMTP settings")
        else:
            if not self.host or not self.sender or not self.recipients:
                raise ValueError("an email channel needs `host`, `sender` and `recipients`")
            if self.url or self.headers:
                raise ValueError("an email channel has no `url` or `headers`")
            if (self.username is None) != (self.password is None):
                raise ValueError("give `username` and `password` together")
        if self.secret is not None and self.kind is not ChannelKind.dingtalk:
            raise ValueError("only a dingtalk channel has a signing `secret`")
        if self.headers and self.kind is not ChannelKind.webhook:
            raise ValueError("only a webhook channel has `headers`")
        return self

    @property
    def smtp_port(self) -> int:
        if self.port is not None:
            return self.port
        return {SmtpSecurity.none: 25, SmtpSecurity.starttls: 587, SmtpSecurity.ssl: 465}[self.security]

    @property
    def safe_target(self) -> str:
        """Where the channel sends, fit for a log: the URL without its query, or the SMTP server."""
        if self.url is not None:
            return url_without_secrets(self.url)
        return f"smtp://{self.host}:{self.smtp_port}"

    @property
    def secrets(self) -> list[str]:
        """The texts to mask wherever this channel's errors are shown, longest first."""
        found: list[str] = [v for v in (self.secret, self.password) if v]
        found += [v for v in self.headers.values() if len(v) >= 4]
        if self.url:
            parts = urlsplit(self.url)
            found += [value for _, _, value in (p.partition("=") for p in parts.query.split("&")) if len(value) >= 4]
            found += [segment for segment in parts.path.split("/") if len(segment) >= 16]  # tokens in the path
            if parts.password:
                found.append(parts.password)
            found.append(self.url)
        return sorted(set(found), key=len, reverse=True)

    def __repr_args__(self):  # type: ignore[no-untyped-def]
        # Keep secrets out of reprs, which end up in logs and tracebacks.
        for key, value in super().__repr_args__():
            if key in ("secret", "password", "headers") and value:
                yield key, "***"
            elif key == "url" and isinstance(value, str):
                yield key, url_without_secrets(value)
            else:
                yield key, value


class NotifyConfig(Strict):
    base_url: str | None = Field(default=None, description="the web app's address as people reach it "
                                                           "(https://hallwatch.example), for the link in each message")
    channels: list[ChannelConfig] = Field(default_factory=list)
    quiet_hours: QuietHours | None = Field(default=None, description="every channel's quiet span unless it has "
                                                                     "its own")
    retry: RetryConfig = RetryConfig()
    poll_s: float = Field(default=5.0, ge=0.2, le=300.0, description="how often new alerts are looked for")
    max_age_s: float = Field(default=3600.0, ge=60.0, le=7 * 86400.0,
                             description="alerts that opened (or closed) longer ago than this are not sent: a "
                                         "replay after an outage sends no stale news")
    timeout_s: float = Field(default=10.0, gt=0, le=120.0, description="bounds one delivery (connect and send)")

    @model_validator(mode="after")
    def _consistent(self) -> NotifyConfig:
        unique("notify.channels", [c.id for c in self.channels])
        if self.channels and not self.base_url:
            raise ValueError("channels need `base_url` (the address people open the alerts page at)")
        if self.base_url is not None and not re.match(r"^https?://[^/\s]+", self.base_url):
            raise ValueError("base_url: not an http(s) URL")
        return self

    def quiet_for(self, channel: ChannelConfig) -> QuietHours | None:
        return channel.quiet_hours or self.quiet_hours
