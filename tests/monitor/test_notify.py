"""Alert notifications against real local receivers: an HTTP server on a free port that records what it is sent
(generic webhook, WeCom and DingTalk robot formats, DingTalk's signature checked), an aiosmtpd SMTP server (plain
with login, and STARTTLS with a certificate of its own), and a real PostgreSQL holding the events as the pipeline
stores them. Routing by scope and kind, quiet hours in the site's time zone, retry with backoff after the receiver
fails twice, each change sent once with two dispatchers racing, and no secret in logs, errors or the delivery log."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from psycopg_pool import ConnectionPool
from pydantic import ValidationError

from core.config.notify import ChannelConfig, NotifyConfig
from core.errors import ConfigError
from monitor.notify import Dispatcher
from storage.notifications import delivery_log
from tests.fix_records import NOW, event
from tests.fix_sites import SITE, free_port

WECOM_KEY = "wk-0b6f2e11-93c4-4bd0-8d1f-secretkey"
DING_TOKEN = "dt-8c1f5e2a9b7d4c3e-token"
DING_SECRET = "SECd4b1f0c2a9e84d7b6c5a4f3e2d1c0b9a8-signing"
HOOK_TOKEN = "hook-bearer-7f3a9c21-secret"
SMTP_PASSWORD = "smtp-pa55-w0rd-secret"
NANGUAN = next(h.name for h in SITE.halls if h.id == "cc-nanguan")
SECRETS = (WECOM_KEY, DING_TOKEN, DING_SECRET, HOOK_TOKEN, SMTP_PASSWORD)


@dataclass
class Received:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class Receiver:
    """A real HTTP server recording each POST; `failures` answers the first N requests with HTTP 500 (its body
    quoting the request line, as some servers do: the secret in the URL must still not reach the log)."""

    url: str
    requests: list[Received] = field(default_factory=list)
    failures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Event = field(default_factory=threading.Event)  # set by every request

    def on(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    port = free_port()
    state = Receiver(url=f"http://127.0.0.1:{port}")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            parts = urlsplit(self.path)
            with state.lock:
                state.requests.append(Received(parts.path, parse_qs(parts.query), dict(self.headers.items()),
                                               json.loads(raw)))
                failing = state.failures > 0
                state.failures -= 1 if failing else 0
                state.arrived.set()
            if failing:
                answer, status = f"upstream error for {self.requestline}".encode(), 500
            elif parts.path.startswith(("/wecom", "/ding")):
                answer, status = b'{"errcode": 0, "errmsg": "ok"}', 200
            else:
                answer, status = b"{}", 200
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, name="receiver", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], str]] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content.decode()))
        return "250 OK"


def _authenticator(server: object, session: object, envelope: object, mechanism: str, data: object) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login == b"hall-alerts" and data.password == SMTP_PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, authenticator=_authenticator,
                            auth_require_tls=False)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def notify(*channels: dict[str, Any], **settings: Any) -> NotifyConfig:
    return NotifyConfig.model_validate({"base_url": "https://hallwatch.example", "channels": list(channels),
                                        **settings})


def dispatcher(pool: ConnectionPool, config: NotifyConfig, *, clock: Callable[[], datetime] | None = None,
               worker: str = "test-1", site: Any = SITE) -> Dispatcher:
    if clock is None:
        return Dispatcher(site, pool, notify=config, worker=worker)
    return Dispatcher(site, pool, notify=config, worker=worker, clock=clock)


def statuses(pool: ConnectionPool) -> dict[tuple[str, str, str], str]:
    """(channel, alert id, change) -> status."""
    with pool.connection() as conn:
        return {(r["channel_id"], r["alert_id"], r["change"]): r["status"] for r in delivery_log(conn, limit=1000)}


def close(pool: ConnectionPool, alert_started: datetime, ended: datetime, *, hall: str = "cc-nanguan",
          kind: str = "unstaffed_while_waiting", subject: str = "w1") -> None:
    with pool.connection() as conn:
        conn.execute("INSERT INTO event_close (ts, hall_id, kind, subject, ended_at) VALUES (%s, %s, %s, %s, %s)",
                     (alert_started, hall, kind, subject, ended))


def test_webhook_wecom_and_dingtalk_formats(pool: ConnectionPool, receiver: Receiver,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HW_WECOM_KEY", WECOM_KEY)
    monkeypatch.setenv("HW_DING_TOKEN", DING_TOKEN)
    monkeypatch.setenv("HW_DING_SECRET", DING_SECRET)
    monkeypatch.setenv("HW_HOOK_TOKEN", HOOK_TOKEN)
    config = notify(
        {"id": "hook", "kind": "webhook", "url": f"{receiver.url}/hook",
         "headers": {"Authorization": "Bearer ${HW_HOOK_TOKEN}"}},
        {"id": "wecom", "kind": "wecom", "url": f"{receiver.url}/wecom/send?key=${{HW_WECOM_KEY}}"},
        {"id": "ding", "kind": "dingtalk", "url": f"{receiver.url}/ding/send?access_token=${{HW_DING_TOKEN}}",
         "secret": "${HW_DING_SECRET}"})
    started = NOW - timedelta(minutes=5)
    alert = event(pool, subject="w2", started=started)
    before_ms = int(datetime.now(UTC).timestamp() * 1000)
    assert dispatcher(pool, config).tick() == 3

    [hook] = receiver.on("/hook")
    assert hook.headers["Authorization"] == f"Bearer {HOOK_TOKEN}"
    assert hook.body["source"] == "hallwatch" and hook.body["locale"] == "en"
    data = hook.body["alert"]
    assert data["id"] == alert and data["change"] == "opened" and data["kind"] == "unstaffed_while_waiting"
    assert (data["hall_id"], data["hall_name"], data["subject"], data["subject_name"], data["camera_id"],
            data["camera_name"]) == ("cc-nanguan", NANGUAN, "w2", "Window 2", "cam1",
                                     "Windows 1-2")
    assert datetime.fromisoformat(data["started_at"]) == started
    assert data["url"].startswith("https://hallwatch.example/alerts?hall_id=cc-nanguan#alert-cc-nanguan")
    local = started.astimezone(SITE.scorecards.tz)
    assert hook.body["title"] == f"Alert: Window unstaffed while people wait, {NANGUAN}"
    assert f"Started: {local:%Y-%m-%d %H:%M}" in hook.body["text"] and "Window: Window 2" in hook.body["text"]

    [wecom] = receiver.on("/wecom/send")
    assert wecom.query == {"key": [WECOM_KEY]}
    assert set(wecom.body) == {"msgtype", "markdown"} and wecom.body["msgtype"] == "markdown"
    content = wecom.body["markdown"]["content"]
    assert content.startswith("### Alert: Window unstaffed") and f"({data['url']})" in content

    [ding] = receiver.on("/ding/send")
    assert ding.body["msgtype"] == "markdown" and set(ding.body["markdown"]) == {"title", "text"}
    assert ding.body["markdown"]["title"] == hook.body["title"] and ding.body["markdown"]["text"] == content
    assert ding.query["access_token"] == [DING_TOKEN]
    timestamp = ding.query["timestamp"][0]
    assert abs(int(timestamp) - before_ms) < 3_600_000  # DingTalk refuses a timestamp an hour off
    expected = base64.b64encode(hmac.new(DING_SECRET.encode(), f"{timestamp}\n{DING_SECRET}".encode(),
                                         hashlib.sha256).digest()).decode()
    assert ding.query["sign"] == [expected]  # parse_qs undid the URL encoding of "+", "/" and "="

    # Sent once: another round sends nothing; the end of the alert goes to every channel.
    assert dispatcher(pool, config).tick() == 0
    close(pool, started, NOW, subject="w2")
    assert dispatcher(pool, config).tick() == 3
    [_, ended] = receiver.on("/hook")
    assert ended.body["alert"]["change"] == "closed" and ended.body["title"].startswith("Alert ended: ")
    assert f"Ended: {NOW.astimezone(SITE.scorecards.tz):%Y-%m-%d %H:%M}" in ended.body["text"]
    assert set(statuses(pool).values()) == {"sent"} and len(statuses(pool)) == 6


def test_email_in_the_sites_language(pool: ConnectionPool, smtp: tuple[Mailbox, int],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    box, port = smtp
    monkeypatch.setenv("HW_SMTP_PASSWORD", SMTP_PASSWORD)
    config = notify({"id": "mail", "kind": "email", "host": "127.0.0.1", "port": port, "security": "none",
                     "username": "hall-alerts", "password": "${HW_SMTP_PASSWORD}",
                     "sender": "alerts@hallwatch.example", "recipients": ["center@jl.example", "duty@jl.example"]})
    chinese = SITE.model_copy(update={"province": SITE.province.model_copy(update={"locale": "zh_CN"})})
    started = NOW - timedelta(minutes=3)
    alert = event(pool, kind="camera_offline", subject="cam2", started=started)
    assert dispatcher(pool, config, site=chinese).tick() == 1

    [(sender, recipients, content)] = box.messages
    assert sender == "alerts@hallwatch.example" and recipients == ["center@jl.example", "duty@jl.example"]
    from email import message_from_string
    from email.policy import default

    mail = message_from_string(content, policy=default)
    body = mail.get_content()  # type: ignore[attr-defined]
    assert mail["Subject"] == f"告警：摄像机离线，{NANGUAN}"
    assert f"开始时间: {started.astimezone(SITE.scorecards.tz):%Y-%m-%d %H:%M}" in body
    assert "摄像机: Window 3" in body and "大厅: " in body
    assert alert.replace(":", "%3A") in body
    assert statuses(pool) == {("mail", alert, "opened"): "sent"}


def test_email_over_starttls(pool: ConnectionPool, tmp_path: Path) -> None:
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            authenticator=_authenticator)
    controller.start()
    try:
        mail = {"id": "mail", "kind": "email", "host": "localhost", "port": port, "security": "starttls",
                "username": "hall-alerts", "password": SMTP_PASSWORD, "sender": "alerts@hallwatch.example",
                "recipients": ["center@jl.example"]}
        alert = event(pool)
        # the system's CAs do not vouch for this server: refused, and said so without the password
        refused = dispatcher(pool, notify(mail, retry={"attempts": 1}))
        refused.tick()
        [row] = _log(pool)
        assert row["status"] == "failed" and "CERTIFICATE_VERIFY_FAILED" in row["attempts_log"][0]["error"]
        assert box.messages == []
        trusted = dispatcher(pool, notify({**mail, "id": "mail2", "ca_file": str(tmp_path / "cert.pem")}))
        assert trusted.tick() == 1
    finally:
        controller.stop()
    assert len(box.messages) == 1 and statuses(pool)[("mail2", alert, "opened")] == "sent"


def _log(pool: ConnectionPool, channel: str | None = None) -> list[dict[str, Any]]:
    with pool.connection() as conn:
        return delivery_log(conn, channel_id=channel)


def test_routing_by_scope_and_kind(pool: ConnectionPool, receiver: Receiver) -> None:
    config = notify(
        {"id": "chaoyang", "kind": "webhook", "url": f"{receiver.url}/chaoyang", "scopes": ["hall/cc-chaoyang"]},
        {"id": "jlc", "kind": "webhook", "url": f"{receiver.url}/jlc", "scopes": ["city/jlc"]},
        {"id": "cameras", "kind": "webhook", "url": f"{receiver.url}/cameras",
         "kinds": ["camera_offline", "camera_moved"]},
        {"id": "queues-cc", "kind": "webhook", "url": f"{receiver.url}/queues-cc", "scopes": ["city/cc"],
         "kinds": ["queue_over_limit"], "on_close": False},
        {"id": "off", "kind": "webhook", "url": f"{receiver.url}/off", "enabled": False})
    t = NOW - timedelta(minutes=10)
    nanguan_unstaffed = event(pool, "cc-nanguan", "unstaffed_while_waiting", "w1", t)
    chaoyang_unstaffed = event(pool, "cc-chaoyang", "unstaffed_while_waiting", "w2", t)
    chuanying_offline = event(pool, "jlc-chuanying", "camera_offline", "cam1", t)
    nanguan_queue = event(pool, "cc-nanguan", "queue_over_limit", "q1", t)
    chuanying_queue = event(pool, "jlc-chuanying", "queue_over_limit", "q1", t)
    old = event(pool, "cc-chaoyang", "camera_moved", "cam1", NOW - timedelta(hours=3))  # older than max_age
    dispatcher(pool, config).tick()

    def alerts(path: str) -> set[str]:
        return {r.body["alert"]["id"] for r in receiver.on(path)}

    assert alerts("/chaoyang") == {chaoyang_unstaffed}
    assert alerts("/jlc") == {chuanying_offline, chuanying_queue}
    assert alerts("/cameras") == {chuanying_offline}
    assert alerts("/queues-cc") == {nanguan_queue}
    assert alerts("/off") == set() and nanguan_unstaffed not in {a for _, a, _ in statuses(pool)}
    assert old not in {a for _, a, _ in statuses(pool)}

    for hall, kind, subject in (("cc-nanguan", "queue_over_limit", "q1"), ("jlc-chuanying", "camera_offline", "cam1")):
        close(pool, t, NOW, hall=hall, kind=kind, subject=subject)
    dispatcher(pool, config).tick()
    assert [r.body["alert"]["change"] for r in receiver.on("/queues-cc")] == ["opened"]  # on_close: false
    assert [r.body["alert"]["change"] for r in receiver.on("/cameras")] == ["opened", "closed"]
    assert [r.body["alert"]["change"] for r in receiver.on("/jlc")].count("closed") == 1


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def test_quiet_hours_in_the_sites_time_zone(pool: ConnectionPool, receiver: Receiver) -> None:
    # 22:00-07:00 in Asia/Shanghai (UTC+8); a camera going offline is critical and bypasses them
    config = notify({"id": "hook", "kind": "webhook", "url": f"{receiver.url}/hook"},
                    quiet_hours={"start": "22:00", "end": "07:00", "bypass": ["camera_offline"]})
    night = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)  # 23:30 in the halls
    morning = datetime(2026, 11, 20, 23, 10, tzinfo=UTC)  # 07:10 the next day in the halls
    clock = Clock(night + timedelta(minutes=1))
    quiet = event(pool, "cc-nanguan", "unstaffed_while_waiting", "w1", night)
    critical = event(pool, "cc-nanguan", "camera_offline", "cam2", night)
    dispatcher(pool, config, clock=clock).tick()
    assert {r.body["alert"]["id"] for r in receiver.requests} == {critical}
    [held] = [r for r in _log(pool) if r["alert_id"] == quiet]
    assert held["status"] == "suppressed" and held["reason"] == "quiet hours 22:00-07:00"
    assert held["attempts_log"] == []

    # the quiet alert's end is not announced (its start never was); a new alert after 07:00 is sent
    close(pool, night, morning)
    clock.at = morning + timedelta(minutes=1)
    awake = event(pool, "cc-chaoyang", "unstaffed_while_waiting", "w1", morning)
    dispatcher(pool, config, clock=clock).tick()
    assert [r.body["alert"]["id"] for r in receiver.requests] == [critical, awake]
    assert statuses(pool) == {("hook", quiet, "opened"): "suppressed", ("hook", critical, "opened"): "sent",
                              ("hook", awake, "opened"): "sent"}


def test_retry_with_backoff_after_the_receiver_fails_twice(pool: ConnectionPool, receiver: Receiver) -> None:
    config = notify({"id": "hook", "kind": "webhook", "url": f"{receiver.url}/hook"},
                    retry={"attempts": 4, "first_delay_s": 30, "factor": 2})
    clock = Clock(NOW)
    alert = event(pool, started=NOW - timedelta(minutes=1))
    receiver.failures = 2
    sender = dispatcher(pool, config, clock=clock)
    assert sender.tick() == 1
    clock.at = NOW + timedelta(seconds=29)
    assert sender.tick() == 0  # not due before its backoff
    clock.at = NOW + timedelta(seconds=30)
    assert sender.tick() == 1
    clock.at = NOW + timedelta(seconds=30 + 59)
    assert sender.tick() == 0  # the second wait is twice the first
    clock.at = NOW + timedelta(seconds=30 + 60)
    assert sender.tick() == 1
    assert len(receiver.requests) == 3 and statuses(pool) == {("hook", alert, "opened"): "sent"}
    [row] = _log(pool)
    log = row["attempts_log"]
    assert [a["ok"] for a in log] == [False, False, True] and row["attempts"] == 3
    assert log[0]["error"] == f"HTTP 500 from {receiver.url}/…: upstream error for POST /hook HTTP/1.1"
    assert log[2]["error"] == ""

    # a receiver that keeps failing: given up after the configured attempts
    receiver.failures = 100
    close(pool, NOW - timedelta(minutes=1), NOW)
    for seconds in (100, 130, 190, 310):
        clock.at = NOW + timedelta(seconds=seconds)
        sender.tick()
    [ended] = [r for r in _log(pool) if r["change"] == "closed"]
    assert ended["status"] == "failed" and ended["attempts"] == 4 and ended["reason"] == "gave up after 4 attempts"


def test_each_change_sent_once_with_two_dispatchers_racing(pool: ConnectionPool, receiver: Receiver) -> None:
    config = notify({"id": "a", "kind": "webhook", "url": f"{receiver.url}/a"},
                    {"id": "b", "kind": "webhook", "url": f"{receiver.url}/b", "scopes": ["city/cc"]})
    t = NOW - timedelta(minutes=20)
    alerts = [event(pool, hall, "queue_over_limit", f"q{i}", t + timedelta(seconds=i))
              for i in range(12) for hall in ("cc-nanguan", "jlc-chuanying")]
    racers = [dispatcher(pool, config, worker=f"racer-{i}") for i in range(2)]
    start = threading.Barrier(len(racers))
    done: list[int] = []

    def race(d: Dispatcher) -> None:
        start.wait()
        for _ in range(3):
            done.append(d.tick())

    threads = [threading.Thread(target=race, args=(d,)) for d in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    sent_a = [r.body["alert"]["id"] for r in receiver.on("/a")]
    sent_b = [r.body["alert"]["id"] for r in receiver.on("/b")]
    assert sorted(sent_a) == sorted(alerts)
    assert sorted(sent_b) == sorted(a for a in alerts if a.startswith("cc-"))
    assert sum(done) == len(sent_a) + len(sent_b) == 36
    workers = {a["worker"] for r in _log(pool) for a in r["attempts_log"]}
    assert workers <= {"racer-0", "racer-1"}


def test_a_dead_senders_message_is_taken_again_when_its_lease_ends(pool: ConnectionPool, receiver: Receiver) -> None:
    from storage.notifications import claim_due

    config = notify({"id": "hook", "kind": "webhook", "url": f"{receiver.url}/hook"})
    clock = Clock(NOW)
    alert = event(pool, started=NOW - timedelta(minutes=1))
    dead = dispatcher(pool, config, clock=clock, worker="dead")
    dead.queue_new()
    with pool.connection() as conn:  # claimed, then its process died before sending
        assert len(claim_due(conn, channels=["hook"], worker="dead", now=NOW, lease_s=60)) == 1
    alive = dispatcher(pool, config, clock=clock, worker="alive")
    assert alive.tick() == 0
    clock.at = NOW + timedelta(seconds=61)
    assert alive.tick() == 1
    assert [r.body["alert"]["id"] for r in receiver.requests] == [alert]
    [row] = _log(pool)
    assert row["status"] == "sent" and [a["worker"] for a in row["attempts_log"]] == ["alive"]


def test_secrets_never_in_logs_errors_or_the_delivery_log(pool: ConnectionPool, receiver: Receiver,
                                                          smtp: tuple[Mailbox, int],
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    _, port = smtp
    monkeypatch.setenv("HW_WECOM_KEY", WECOM_KEY)
    monkeypatch.setenv("HW_DING_TOKEN", DING_TOKEN)
    monkeypatch.setenv("HW_DING_SECRET", DING_SECRET)
    monkeypatch.setenv("HW_HOOK_TOKEN", HOOK_TOKEN)
    monkeypatch.setenv("HW_SMTP_PASSWORD", SMTP_PASSWORD)
    dead_port = free_port()
    config = notify(
        {"id": "wecom", "kind": "wecom", "url": f"{receiver.url}/wecom/send?key=${{HW_WECOM_KEY}}"},
        {"id": "ding", "kind": "dingtalk", "url": f"http://127.0.0.1:{dead_port}/send?access_token=${{HW_DING_TOKEN}}",
         "secret": "${HW_DING_SECRET}"},
        {"id": "hook", "kind": "webhook", "url": f"http://user:{HOOK_TOKEN}@127.0.0.1:{dead_port}/x",
         "headers": {"X-Token": "${HW_HOOK_TOKEN}"}},
        {"id": "mail", "kind": "email", "host": "127.0.0.1", "port": port, "security": "none",
         "username": "hall-alerts", "password": SMTP_PASSWORD + "-wrong", "sender": "a@hallwatch.example",
         "recipients": ["b@hallwatch.example"]},
        retry={"attempts": 1})
    receiver.failures = 1  # its answer quotes the request line, key and all
    event(pool)
    with caplog.at_level(logging.DEBUG):
        assert dispatcher(pool, config).tick() == 4
    errors = [a["error"] for r in _log(pool) for a in r["attempts_log"]]
    assert len(errors) == 4 and all(errors), errors
    assert any("HTTP 500" in e and "key=***" in e for e in errors)
    assert any("535" in e for e in errors)  # the SMTP server refused the login
    shown = "\n".join(errors + [caplog.text, repr(config), str(config)] +
                      [c.safe_target for c in config.channels])
    for secret in SECRETS:
        assert secret not in shown and unquote(secret) not in shown, secret
    assert "Authentication" in shown or "535" in shown


def test_the_service_thread_sends_until_stopped(pool: ConnectionPool, receiver: Receiver) -> None:
    config = notify({"id": "hook", "kind": "webhook", "url": f"{receiver.url}/hook"}, poll_s=0.2)
    stop = threading.Event()
    Dispatcher(SITE, pool, notify=NotifyConfig()).run(stop)  # no channels: returns at once, stop not set
    thread = threading.Thread(target=dispatcher(pool, config).run, args=(stop,), name="notify", daemon=True)
    thread.start()
    try:
        alert = event(pool)
        assert receiver.arrived.wait(30)
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive() and [r.body["alert"]["id"] for r in receiver.requests] == [alert]


def test_bad_channel_settings_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HW_NOT_SET", raising=False)
    with pytest.raises(ValidationError, match="environment variable HW_NOT_SET is not set"):
        ChannelConfig.model_validate({"id": "w", "kind": "wecom", "url": "https://x.example/send?key=${HW_NOT_SET}"})
    with pytest.raises(ValidationError, match="needs `host`, `sender` and `recipients`"):
        ChannelConfig.model_validate({"id": "m", "kind": "email", "host": "smtp.example"})
    with pytest.raises(ValidationError, match="only a dingtalk channel has a signing `secret`"):
        ChannelConfig.model_validate({"id": "w", "kind": "wecom", "url": "https://x.example/", "secret": "s"})
    with pytest.raises(ValidationError, match="scope 'town/x'"):
        ChannelConfig.model_validate({"id": "w", "kind": "webhook", "url": "https://x.example/", "scopes": ["town/x"]})
    with pytest.raises(ValidationError, match="channels need `base_url`"):
        NotifyConfig.model_validate({"channels": [{"id": "w", "kind": "webhook", "url": "https://x.example/"}]})
    with pytest.raises(ConfigError, match=r"notify.channels\[w\].scopes: no hall 'cc-nowhere'"):
        Dispatcher(SITE, None, notify=notify({"id": "w", "kind": "webhook", "url": "https://x.example/",  # type: ignore[arg-type]
                                              "scopes": ["hall/cc-nowhere"]}))
