"""Sending one message through one channel: a generic webhook (JSON POST), e-mail (SMTP, plain, STARTTLS or
SSL), and the group robots of WeCom (企业微信) and DingTalk (钉钉), whose webhooks take `msgtype: markdown` and
answer `{"errcode": 0}` when they accepted it. DingTalk's signed mode adds `timestamp` (ms) and `sign`
(base64 of HMAC-SHA256 over "timestamp\\nsecret" keyed by the secret, URL-encoded) to the URL.

Every failure is a `DeliveryError` whose text has the channel's secrets masked (robot keys, signing secrets,
auth headers, SMTP passwords), so it may be logged and stored in the delivery log."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import quote_plus

from core.config.notify import ChannelConfig, ChannelKind, SmtpSecurity
from core.errors import HallwatchError
from core.redact import redact_text
from monitor.notify.messages import Message

USER_AGENT = "hallwatch-notify/1"


class DeliveryError(HallwatchError):
    """A message was not delivered; the text is safe to log (secrets masked)."""


def mask(text: str, channel: ChannelConfig) -> str:
    for secret in channel.secrets:
        text = text.replace(secret, "***")
        quoted = quote_plus(secret)
        if quoted != secret:
            text = text.replace(quoted, "***")
    return redact_text(text)


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature of a request made at `timestamp_ms` (not yet URL-encoded)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def payload(channel: ChannelConfig, message: Message) -> dict[str, object]:
    """The JSON body a web channel posts."""
    if channel.kind is ChannelKind.wecom:
        return {"msgtype": "markdown", "markdown": {"content": message.markdown()}}
    if channel.kind is ChannelKind.dingtalk:
        return {"msgtype": "markdown", "markdown": {"title": message.title, "text": message.markdown()}}
    return {"source": "hallwatch", "title": message.title, "text": message.text(), "locale": message.locale,
            "alert": message.data}


def _post(channel: ChannelConfig, message: Message, *, timeout: float, now_ms: int) -> None:
    assert channel.url is not None
    url = channel.url
    if channel.kind is ChannelKind.dingtalk and channel.secret:
        sep = "&" if "?" in url else "?"
        url = f"{url}{sep}timestamp={now_ms}&sign={quote_plus(dingtalk_sign(channel.secret, now_ms))}"
    body = json.dumps(payload(channel, message), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT, **channel.headers}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) checked in config
            answer = response.read(65536)
    except urllib.error.HTTPError as exc:
        detail = exc.read(300).decode(errors="replace").strip()
        raise DeliveryError(f"HTTP {exc.code} from {channel.safe_target}" + (f": {detail}" if detail else "")) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise DeliveryError(f"cannot reach {channel.safe_target}: {reason}") from None
    if channel.kind in (ChannelKind.wecom, ChannelKind.dingtalk):
        try:
            result = json.loads(answer)
            code, text = result.get("errcode"), result.get("errmsg", "")
        except (ValueError, AttributeError):
            raise DeliveryError(f"{channel.safe_target} answered something other than JSON") from None
        if code != 0:
            raise DeliveryError(f"{channel.safe_target} refused the message: errcode {code} {text}")


def _mail(channel: ChannelConfig, message: Message, *, timeout: float) -> None:
    assert channel.host is not None and channel.sender is not None
    mail = EmailMessage()
    mail["Subject"] = message.title
    mail["From"] = channel.sender
    mail["To"] = ", ".join(channel.recipients)
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=channel.sender.rpartition("@")[2] or None)
    mail.set_content(message.text())
    context = ssl.create_default_context(cafile=channel.ca_file)
    try:
        if channel.security is SmtpSecurity.ssl:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(channel.host, channel.smtp_port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(channel.host, channel.smtp_port, timeout=timeout)
        with smtp:
            if channel.security is SmtpSecurity.starttls:
                smtp.starttls(context=context)
            if channel.username is not None and channel.password is not None:
                smtp.login(channel.username, channel.password)
            refused = smtp.send_message(mail)
    except smtplib.SMTPResponseException as exc:
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        raise DeliveryError(f"{channel.safe_target} refused: {exc.smtp_code} {text}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"cannot send through {channel.safe_target}: {exc}") from None
    if refused:
        raise DeliveryError(f"{channel.safe_target} refused recipients: {', '.join(sorted(refused))}")


def send(channel: ChannelConfig, message: Message, *, timeout: float, now_ms: int) -> None:
    """Deliver `message` through `channel` within about `timeout` seconds, or raise DeliveryError (masked).
    `now_ms`: the time of the request in ms since 1970 (DingTalk's signature)."""
    try:
        if channel.kind is ChannelKind.email:
            _mail(channel, message, timeout=timeout)
        else:
            _post(channel, message, timeout=timeout, now_ms=now_ms)
    except DeliveryError as exc:
        raise DeliveryError(mask(str(exc), channel)) from None
