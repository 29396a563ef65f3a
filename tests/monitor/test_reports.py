"""Monthly reports as PDF and Excel through the web app, against a real PostgreSQL holding November 2026 of hall
cc-nanguan as the routes and the pipeline store it: complaints through their workflow, inspections of every
visibility (a published spot check, a covert secret-shopper visit carried out but not published, a covert plan
not yet carried out, a cross-inspection carried out but not published, a covert visit disclosed by publishing it),
cases moved through their steps, desk samples against a roster, and queue waits. The expected numbers are
computed from the records the fixture creates (and the scorecards from /api/v1/scorecards); the Excel cells are
read back with openpyxl and the PDF's text with a small reader of its own (no PDF library is installed), in
English and Chinese, with the Chinese font embedded. Users of each scope (province, city, hall) get their own
units only, and the hall's own users never a covert visit before it is published, not even as a count.
Sending: real local receivers (an HTTP server, aiosmtpd), and the CLI."""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest
import yaml
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from psycopg_pool import ConnectionPool

from core.config.notify import NotifyConfig
from hallwatch.cli import main as hallwatch
from monitor.labels import label_text
from monitor.reports.pdf import font_file
from monitor.reports.send import send_reports
from pipeline.rows import DeskSample
from storage.records.officers import create_officer
from storage.records.rosters import Shift, add_shift
from storage.records.scorecards import Month
from storage.server import DATABASE_URL_ENV
from tests.fix_auth import add_user, api_client
from tests.fix_records import put
from tests.fix_sites import EXAMPLE_SITE, SITE, free_port, write_site
from tests.fix_web import fuzz_api

HALL = "cc-nanguan"
MONTH = "2026-11"
TZ = SITE.scorecards.tz
NANGUAN = next(h.name for h in SITE.halls if h.id == HALL)
CITY_HALLS = {h.name for h in SITE.halls if h.city == "cc"}
# Who is who (tests/fix_auth.py's `people`, and a city manager added here): hall-scoped users never learn of a
# covert visit before it is published; hall staff see published inspections only.
HALL_USERS = {"staff": "hall_staff", "hallboss": "manager"}
SECRETS = ("SHOPPER-X", "SECRET-FINDING", "PLANNED-Y")


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=TZ)


# Queue minutes of q1 on 3 November (tracked dwell: p50, p90) and 5 November (Little's law only); one minute of
# the 3rd waits over the SLA (1800 s): overtime 1, on the hall (q1 serves no single window).
WAITS_3 = [(60.0, 100.0), (120.0, 200.0), (180.0, 2000.0)]
LITTLES_5 = [300.0, 600.0]


@dataclass(frozen=True)
class Inspection:
    """An inspection the fixture makes: its kind, whether covert, how far it got, its findings (severity,
    category, text) and the inspector's name."""

    kind: str
    covert: bool
    status: str  # planned, carried_out or published
    findings: tuple[tuple[str, str, str], ...]
    inspector: str
    day: int

    def seen_by(self, who: str) -> bool:
        """Whether `who` may know of it (storage.records.inspections.visible_sql, restated)."""
        if HALL_USERS.get(who) == "hall_staff":
            return self.status == "published"
        if who in HALL_USERS:
            return not self.covert or self.status == "published"
        return True

    def counted_by(self, who: str) -> bool:
        """Whether `who`'s report counts it: carried out this month and visible."""
        return self.status != "planned" and self.seen_by(who)


INSPECTIONS = {
    "spot": Inspection("spot_check", False, "published", (("high", "error", "wrong form"),), "team A", 10),
    "covert": Inspection("secret_shopper", True, "carried_out",
                         (("critical", "error", "SECRET-FINDING overcharged"),), "SHOPPER-X", 12),
    "planned": Inspection("cross_inspection", True, "planned", (), "PLANNED-Y", 25),
    "unpublished": Inspection("cross_inspection", False, "carried_out", (("medium", "process", "no queue sign"),),
                              "team B", 18),
    "disclosed": Inspection("social_supervisor", True, "published", (("low", "environment", "litter"),),
                            "volunteer Z", 14),
}
# Complaints of cc-nanguan: (category, day, window, the steps after receipt, upheld); one more in cc-chaoyang.
RESOLVE = ({"to": "assigned", "assignee": "desk"}, {"to": "in_progress"})
COMPLAINTS = [("attitude", 4, "w1", "resolved", True), ("delay", 6, "w1", "resolved", True),
              ("delay", 7, "w1", "resolved", False), ("environment", 9, None, "received", False)]


@dataclass(frozen=True)
class Case:
    source: str  # "complaint" or a key of INSPECTIONS
    status: str  # at the end of November
    due_day: int

    def counted_by(self, who: str) -> bool:
        return self.source == "complaint" or INSPECTIONS[self.source].seen_by(who)


CASES = [Case("spot", "rectified", 20), Case("complaint", "open", 20), Case("covert", "open", 20)]


def expected(who: str) -> dict[str, Counter[str]]:
    """What `who`'s report of cc-nanguan for November counts, from the records the fixture makes."""
    counted = [i for i in INSPECTIONS.values() if i.counted_by(who)]
    cases = [c for c in CASES if c.counted_by(who)]
    return {
        "complaint_status": Counter(c[3] for c in COMPLAINTS),
        "complaint_category": Counter(c[0] for c in COMPLAINTS),
        "inspection_kind": Counter(i.kind for i in counted),
        "severity": Counter(f[0] for i in counted for f in i.findings),
        "finding_category": Counter(f[1] for i in counted for f in i.findings),
        "case_status": Counter(c.status for c in cases),
        "overdue": Counter(c.status for c in cases if c.status == "open" and c.due_day < 30),
    }


@pytest.fixture
def month(app, pool: ConnectionPool, people: None) -> None:
    """November 2026 in cc-nanguan (and one complaint in cc-chaoyang, which a hall report never shows)."""
    add_user(pool, "cityboss", "manager", "city/cc")
    root, desk, insp = api_client(app, "root"), api_client(app, "desk"), api_client(app, "insp")
    hallboss = api_client(app, "hallboss")

    def complaint(category: str, day: int, hall: str = HALL, window: str | None = "w1") -> int:
        answer = desk.post("/api/v1/complaints", json={
            "hall_id": hall, "window_id": window, "channel": "hotline", "category": category,
            "summary": f"{category} on the {day}th", "received_at": local(day, 10).isoformat()})
        assert answer.status_code == 201, answer.text
        return int(answer.json()["id"])

    complaint_ids = []
    for category, day, window, status, upheld in COMPLAINTS:
        cid = complaint(category, day, window=window)
        complaint_ids.append(cid)
        if status == "resolved":
            for step in (*RESOLVE, {"to": "resolved", "resolution": "done", "upheld": upheld}):
                assert desk.post(f"/api/v1/complaints/{cid}/transition", json=step).status_code == 200
    complaint("attitude", 9, hall="cc-chaoyang")

    finding_ids: dict[str, int] = {}
    for key, spec in INSPECTIONS.items():
        iid = insp.post("/api/v1/inspections", json={
            "kind": spec.kind, "hall_id": HALL, "covert": spec.covert, "inspector": spec.inspector,
            "planned_at": local(spec.day, 9).isoformat()}).json()["id"]
        if spec.status == "planned":
            continue
        assert insp.post(f"/api/v1/inspections/{iid}/visit",
                         json={"carried_out_at": local(spec.day, 10).isoformat()}).status_code == 200
        for severity, category, text in spec.findings:
            answer = insp.post(f"/api/v1/inspections/{iid}/findings", json={
                "category": category, "severity": severity, "window_id": "w1", "description": text})
            assert answer.status_code == 201, answer.text
            finding_ids[key] = int(answer.json()["id"])
        if spec.status == "published":
            assert insp.post(f"/api/v1/inspections/{iid}/status", json={"to": "published"}).status_code == 200

    # Cases, dated into November as if made then.
    with pool.connection() as conn:
        for spec in CASES:
            kind, ref = (("complaint", complaint_ids[0]) if spec.source == "complaint"
                         else ("finding", finding_ids[spec.source]))
            answer = insp.post("/api/v1/cases", json={"source_kind": kind, "source_ref": str(ref)})
            assert answer.status_code == 201, answer.text
            cid = int(answer.json()["id"])
            if spec.status == "rectified":
                assert hallboss.post(f"/api/v1/cases/{cid}/transition",
                                     json={"to": "rectified", "rectification": "fixed"}).status_code == 200
            conn.execute("UPDATE work_case SET created_at = %s, due_at = %s WHERE id = %s",
                         (local(15, 10), local(spec.due_day, 10), cid))
            conn.execute("UPDATE work_case_step SET at = CASE to_status WHEN 'open' THEN %s ELSE %s END"
                         " WHERE case_id = %s", (local(15, 10), local(16, 10), cid))

        # w1 rostered 08:30-09:30 on the 3rd: present for the first half hour, absent for the second.
        officer = create_officer(conn, hall_id=HALL, badge="JL0001", name="Li Wei")
        add_shift(conn, Shift(HALL, "w1", officer, time(8, 30), time(9, 30), on_date=date(2026, 11, 3)))
        conn.execute("INSERT INTO wait_sample (ts, hall_id, zone_id, camera_id, served, dwell_p50_s, dwell_p90_s,"
                     " littles_s, mean_queue) SELECT t, %s, 'q1', 'cam1', 2, p50, p90, NULL, 3"
                     " FROM unnest(%s::timestamptz[], %s::float8[], %s::float8[]) AS w(t, p50, p90)",
                     (HALL, [local(3, 10, n) for n in range(len(WAITS_3))], [w[0] for w in WAITS_3],
                      [w[1] for w in WAITS_3]))
        conn.execute("INSERT INTO wait_sample (ts, hall_id, zone_id, camera_id, served, dwell_p50_s, dwell_p90_s,"
                     " littles_s, mean_queue) SELECT t, %s, 'q1', 'cam1', 1, NULL, NULL, l, 3"
                     " FROM unnest(%s::timestamptz[], %s::float8[]) AS w(t, l)",
                     (HALL, [local(5, 10, n) for n in range(len(LITTLES_5))], LITTLES_5))
    start = local(3, 8, 30)
    put(pool, *[DeskSample(start + timedelta(seconds=10 * n), HALL, "w1", "cam1",
                           "present" if n < 180 else "absent", start, 1 if n < 180 else 0) for n in range(361)])
    assert root.get("/api/v1/scorecards", params={"month": MONTH}).status_code == 200


def xlsx(client: TestClient, **params: str) -> Any:
    answer = client.get("/api/v1/reports/monthly", params={"month": MONTH, "format": "xlsx", **params})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in answer.headers["content-disposition"]
    return load_workbook(io.BytesIO(answer.content))


# ---- reading a PDF back, without ReportLab (which made it) and without a PDF library (none is installed) ------
# Enough of PDF for what ReportLab writes: numbered objects, streams (ASCII85 and Flate), pages in the order of
# their tree, fonts with their ToUnicode maps (an embedded TrueType subset), WinAnsi for the standard fonts, UCS-2
# for the CID fallback, and the text operators of the content streams.

_OBJ = re.compile(rb"(\d+) 0 obj\b")
_TOKEN = re.compile(rb"\s*(?:(\()|(<<|>>|\[|\])|<([0-9A-Fa-f\s]*)>|(/[^\s/\[\]()<>{}%]*)|([^\s/\[\]()<>{}%]+))")


def _literal(data: bytes, at: int) -> tuple[bytes, int]:
    """A (string) starting after its '(' at `at`: its bytes and the index after its ')'."""
    out, depth, n = bytearray(), 1, at
    escapes = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("b"): b"\b", ord("f"): b"\f"}
    while True:
        c = data[n]
        if c == 0x5C:  # backslash
            nxt = data[n + 1]
            if nxt in escapes:
                out += escapes[nxt]
                n += 2
            elif 0x30 <= nxt <= 0x37:
                digits = re.match(rb"[0-7]{1,3}", data[n + 1:n + 4])
                assert digits is not None
                out.append(int(digits.group(), 8) & 0xFF)
                n += 1 + len(digits.group())
            elif nxt in b"\r\n":
                n += 2
            else:
                out.append(nxt)
                n += 2
            continue
        if c == 0x28:
            depth += 1
        elif c == 0x29:
            depth -= 1
            if depth == 0:
                return bytes(out), n + 1
        out.append(c)
        n += 1


def _tokens(data: bytes) -> list[Any]:
    """Tokens of a dictionary or a content stream: bytes for strings, ('name', x), ('op', x), '<<' '>>' '[' ']'."""
    out: list[Any] = []
    n = 0
    while True:
        m = _TOKEN.match(data, n)
        if m is None or m.end() == n:
            return out
        if m.group(1):
            text, n = _literal(data, m.end())
            out.append(text)
            continue
        n = m.end()
        if m.group(2):
            out.append(m.group(2).decode())
        elif m.group(3) is not None:
            out.append(bytes.fromhex(re.sub(rb"\s", b"", m.group(3)).decode()))
        elif m.group(4):
            out.append(("name", m.group(4)[1:].decode()))
        else:
            out.append(("op", m.group(5).decode()))


def _value(tokens: list[Any], n: int) -> tuple[Any, int]:
    """One value of a token list: dicts and arrays nested, `N 0 R` as ('ref', N)."""
    token = tokens[n]
    if token == "<<":
        out, n = {}, n + 1
        while tokens[n] != ">>":
            key = tokens[n][1]
            out[key], n = _value(tokens, n + 1)
        return out, n + 1
    if token == "[":
        items, n = [], n + 1
        while tokens[n] != "]":
            item, n = _value(tokens, n)
            items.append(item)
        return items, n + 1
    if (isinstance(token, tuple) and token[0] == "op" and token[1].isdigit() and n + 2 < len(tokens)
            and tokens[n + 2] == ("op", "R")):
        return ("ref", int(token[1])), n + 3
    return token, n + 1


class Pdf:
    """The objects of a PDF file, its pages' text and its fonts."""

    def __init__(self, data: bytes) -> None:
        assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
        self.objects: dict[int, Any] = {}
        self.streams: dict[int, bytes] = {}
        for m in _OBJ.finditer(data):
            number, body = int(m.group(1)), m.end()
            end = data.index(b"endobj", body)
            stream_at = data.find(b"stream", body, end)
            head = data[body:stream_at if stream_at >= 0 else end]
            self.objects[number] = _value(_tokens(head), 0)[0]
            if stream_at >= 0:
                start = stream_at + len(b"stream") + (2 if data[stream_at + 6:stream_at + 8] == b"\r\n" else 1)
                length = self.objects[number]["Length"]
                self.streams[number] = self._decoded(self.objects[number], data[start:start + int(length[1])])
                end = data.index(b"endobj", start + int(length[1]))
        catalogue = next(o for o in self.objects.values() if isinstance(o, dict) and o.get("Type") == ("name",
                                                                                                      "Catalog"))
        self.pages = list(self._pages(self.get(catalogue["Pages"])))

    def get(self, value: Any) -> Any:
        return self.objects[value[1]] if isinstance(value, tuple) and value[0] == "ref" else value

    @staticmethod
    def _decoded(head: dict[str, Any], raw: bytes) -> bytes:
        filters = head.get("Filter", [])
        for f in filters if isinstance(filters, list) else [filters]:
            if f[1] == "ASCII85Decode":
                raw = base64.a85decode(re.sub(rb"\s", b"", raw).removesuffix(b"~>"))
            elif f[1] == "FlateDecode":
                raw = zlib.decompress(raw)
            else:
                raise AssertionError(f"unexpected filter {f[1]}")
        return raw

    def _pages(self, node: dict[str, Any]) -> Any:
        for kid in node["Kids"]:
            page = self.get(kid)
            if page["Type"] == ("name", "Pages"):
                yield from self._pages(page)
            else:
                yield page

    def fonts(self) -> list[dict[str, Any]]:
        """Every font the pages use."""
        found: dict[int, dict[str, Any]] = {}
        for page in self.pages:
            for ref in self.get(self.get(page["Resources"])["Font"]).values():
                found[ref[1]] = self.get(ref)
        return list(found.values())

    def _decoder(self, font: dict[str, Any]) -> Any:
        if "ToUnicode" in font:
            cmap = self.streams[font["ToUnicode"][1]].decode("latin-1")
            codes: dict[bytes, str] = {}
            for block in re.findall(r"beginbfchar(.*?)endbfchar", cmap, re.S):
                for src, dst in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
                    codes[bytes.fromhex(src)] = bytes.fromhex(dst).decode("utf-16-be")
            for block in re.findall(r"beginbfrange(.*?)endbfrange", cmap, re.S):
                for lo, hi, dst in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
                    for k in range(int(hi, 16) - int(lo, 16) + 1):
                        code = (int(lo, 16) + k).to_bytes(len(lo) // 2, "big")
                        codes[code] = chr(int(dst, 16) + k)
            width = max(len(c) for c in codes)
            return lambda raw: "".join(codes.get(raw[i:i + width], "\ufffd") for i in range(0, len(raw), width))
        if str(font.get("Encoding", ("name", ""))[1]).startswith("UniGB-UCS2"):
            return lambda raw: raw.decode("utf-16-be")
        return lambda raw: raw.decode("cp1252")

    def text(self) -> str:
        """The pages' text, a line for each run of text placed on its own (a table's cells: one per line)."""
        lines: list[str] = []
        for page in self.pages:
            fonts = {name: self._decoder(self.get(ref))
                     for name, ref in self.get(self.get(page["Resources"])["Font"]).items()}
            contents = page["Contents"]
            data = b"".join(self.streams[ref[1]] for ref in (contents if isinstance(contents, list) else [contents]))
            decode, operands, line = None, [], ""
            for token in _tokens(data):
                if not (isinstance(token, tuple) and token[0] == "op") or token[1][0].isdigit() or token[1][0] in "-.":
                    operands.append(token)
                    continue
                op = token[1]
                if op == "Tf":
                    decode = fonts[operands[0][1]]
                elif op in ("BT", "ET", "Td", "TD", "T*", "Tm", "'", '"'):
                    if line.strip():
                        lines.append(line.strip())
                    line = ""
                if op in ("Tj", "'", '"'):
                    assert decode is not None
                    line += decode(operands[-1])
                elif op == "TJ":
                    assert decode is not None
                    for part in operands[0:]:
                        if isinstance(part, bytes):
                            line += decode(part)
                        elif isinstance(part, tuple) and float(part[1]) < -200:
                            line += " "
                operands = []
        return "\n".join(lines)


def read_pdf(client: TestClient, **params: str) -> Pdf:
    answer = client.get("/api/v1/reports/monthly", params={"month": MONTH, "format": "pdf", **params})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    return Pdf(answer.content)


def adjacent(text: str) -> set[tuple[str, str]]:
    """Pairs of consecutive lines of a PDF's text: a table's cells come out one per line."""
    lines = [line.strip() for line in text.splitlines()]
    return set(zip(lines, lines[1:], strict=False))


def pairs(sheet: Worksheet) -> dict[str, Any]:
    """Label -> value of a sheet's two-column rows (later tables of the same label win: look up unique ones)."""
    return {str(r[0]): r[1] for r in sheet.iter_rows(values_only=True) if r and r[0] is not None and len(r) > 1}


def counts(sheet: Worksheet, heading: str) -> dict[str, int]:
    """The table of counts under `heading` on a sheet: label -> count."""
    rows = list(sheet.iter_rows(values_only=True))
    top = next(n for n, r in enumerate(rows) if r[0] == heading)
    out = {}
    for r in rows[top + 1:]:
        if r[0] is None:
            break
        out[str(r[0])] = r[1]
    return out


def named(found: Counter[str], group: str, values: list[str]) -> dict[str, int]:
    """Counts by their English labels, every value of the group listed (zeros too) and the total."""
    return {label_text(v, group): found[v] for v in values} | {"Total": sum(found.values())}


def scorecard(client: TestClient, level: str, **params: str) -> list[dict[str, Any]]:
    answer = client.get("/api/v1/scorecards", params={"month": MONTH, "level": level, **params})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


def assert_league(sheet: Worksheet, rows: list[dict[str, Any]]) -> None:
    body = [r for r in sheet.iter_rows(min_row=2, values_only=True) if r[0] is not None]
    assert [(r[1], r[2], r[3], r[5], r[6], r[7], r[8]) for r in body] == [
        (s["name"], s["score"], s["stars"], s["overtime"], s["errors"], s["complaints"], s["presence"])
        for s in rows]
    assert body, "an empty league table proves nothing"


def errors_scored() -> int:
    """Error findings the scorecards count: published, or carried out and not covert."""
    return sum(f[1] == "error" for i in INSPECTIONS.values() if i.status == "published"
               or (i.status == "carried_out" and not i.covert) for f in i.findings)


@pytest.mark.parametrize("who", ["boss", "cityboss", "insp", "hallboss", "staff"])
def test_hall_excel_holds_the_months_numbers(app, month: None, who: str) -> None:
    client = api_client(app, who)
    book = xlsx(client, unit=f"hall/{HALL}")
    assert book.sheetnames == ["Scorecard", "League table by Window", "Waits per day", "Complaints", "Inspections",
                               "Findings", "Cases"]
    (hall,) = scorecard(client, "hall", hall_id=HALL)
    card = pairs(book["Scorecard"])
    assert book["Scorecard"]["A1"].value == f"Monthly report: {NANGUAN}, {MONTH}"
    assert (card["Score"], card["Stars"], card["Overtime"], card["Errors"], card["Complaints"], card["Presence"],
            card["Windows"]) == (hall["score"], hall["stars"], hall["overtime"], hall["errors"], hall["complaints"],
                                 hall["presence"], hall["windows"])
    # what the month holds: the waits over the SLA, the error findings scored, the complaints upheld, w1 half there
    overtime = sum(p90 > SITE.scorecards.wait_sla_s for _, p90 in WAITS_3) + sum(
        w > SITE.scorecards.wait_sla_s for w in LITTLES_5)
    upheld = sum(c[4] for c in COMPLAINTS)
    assert (card["Overtime"], card["Errors"], card["Complaints"]) == (overtime, errors_scored(), upheld)
    assert card["Three zeros"] == ("Yes" if overtime + errors_scored() + upheld == 0 else "No")
    assert card["Presence"] == pytest.approx(0.5, abs=0.01)
    assert_league(book["League table by Window"], scorecard(client, "window", hall_id=HALL))

    waits = {r[0].date(): r[1:] for r in book["Waits per day"].iter_rows(min_row=2, values_only=True)}
    assert len(waits) == 30 and waits[date(2026, 11, 1)] == (None, None, 0, 0)
    p50, p90 = np.percentile([w[0] for w in WAITS_3], 50), np.percentile([w[1] for w in WAITS_3], 90)
    assert waits[date(2026, 11, 3)] == (round(p50 / 60, 1), round(p90 / 60, 1), 2 * len(WAITS_3), len(WAITS_3))
    assert waits[date(2026, 11, 5)] == (round(np.percentile(LITTLES_5, 50) / 60, 1),
                                        round(np.percentile(LITTLES_5, 90) / 60, 1), len(LITTLES_5), len(LITTLES_5))

    want = expected(who)
    statuses = ["received", "assigned", "in_progress", "resolved", "closed", "rejected"]
    assert counts(book["Complaints"], "By status") == named(want["complaint_status"], "complaint_status", statuses)
    categories = ["attitude", "delay", "error", "discipline", "environment", "other"]
    assert counts(book["Complaints"], "By category") == named(want["complaint_category"], "complaint_category",
                                                              categories)
    # The covert visit not yet published is not there for the hall's own users, in any count; the city's and the
    # province's users see it, and the case made from it. The disclosed one is there for everyone.
    kinds = ["spot_check", "secret_shopper", "cross_inspection", "social_supervisor"]
    assert counts(book["Inspections"], "By kind") == named(want["inspection_kind"], "inspection_kind", kinds)
    assert counts(book["Findings"], "By severity") == named(want["severity"], "severity",
                                                            ["low", "medium", "high", "critical"])
    assert counts(book["Cases"], "By status") == named(want["case_status"], "case_status",
                                                       ["open", "rectified", "verified", "closed"]) | {
        "Overdue": sum(want["overdue"].values())}
    assert len(book["Waits per day"]._charts) == 1 and len(book["Complaints"]._charts) == 1
    every_cell = " ".join(str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for v in row)
    assert not any(secret in every_cell for secret in SECRETS)


def test_the_covert_rule_tells_the_users_apart(app, month: None) -> None:
    """The rule the expectations restate does tell users apart in this month, so the test above can fail."""
    assert expected("staff")["inspection_kind"] != expected("hallboss")["inspection_kind"]
    assert expected("hallboss")["inspection_kind"] != expected("cityboss")["inspection_kind"]
    hall_json = api_client(app, "hallboss").get("/api/v1/reports/monthly", params={
        "month": MONTH, "format": "json"}).json()
    city_json = api_client(app, "cityboss").get("/api/v1/reports/monthly", params={
        "month": MONTH, "unit": f"hall/{HALL}", "format": "json"}).json()
    assert (hall_json["inspections_by_kind"]["secret_shopper"], city_json["inspections_by_kind"]["secret_shopper"]) \
        == (0, 1)
    assert hall_json["inspections_by_kind"]["social_supervisor"] == 1  # covert, disclosed: everyone's now
    assert not any(secret in json.dumps(hall_json) for secret in SECRETS)


def test_province_excel_and_pdf(app, month: None) -> None:
    boss = api_client(app, "boss")
    book = xlsx(boss)  # no unit: the user's own scope, the province
    assert book.sheetnames[:3] == ["Scorecard", "League table by City", "League table by Hall"]
    (province,) = scorecard(boss, "province")
    card = pairs(book["Scorecard"])
    assert (card["Score"], card["Overtime"], card["Errors"], card["Complaints"], card["Presence"]) == (
        province["score"], province["overtime"], province["errors"], province["complaints"], province["presence"])
    assert_league(book["League table by City"], scorecard(boss, "city"))
    assert_league(book["League table by Hall"], scorecard(boss, "hall"))
    received = sum(c[3] == "received" for c in COMPLAINTS) + 1  # and cc-chaoyang's
    assert counts(book["Complaints"], "By status")["Received"] == received

    text = read_pdf(boss, unit="province").text()
    assert f"Monthly report: {SITE.province.name}, {MONTH}" in text
    assert f"{province['score']:.1f}" in text
    assert all(h.name in text for h in SITE.halls)


def test_city_report_has_the_citys_halls_only(app, month: None) -> None:
    cityboss = api_client(app, "cityboss")
    book = xlsx(cityboss)  # the user's own scope: city/cc
    assert book["Scorecard"]["A1"].value == f"Monthly report: {next(c.name for c in SITE.cities if c.id == 'cc')}" \
        f", {MONTH}"
    assert book.sheetnames[:2] == ["Scorecard", "League table by Hall"]
    league = [r[1] for r in book["League table by Hall"].iter_rows(min_row=2, values_only=True) if r[0] is not None]
    assert set(league) == CITY_HALLS
    assert_league(book["League table by Hall"], scorecard(cityboss, "hall"))
    received = sum(c[3] == "received" for c in COMPLAINTS) + 1  # and cc-chaoyang's, in the same city
    assert counts(book["Complaints"], "By status")["Received"] == received
    for unit in ("province", "city/jlc", "hall/jlc-chuanying"):
        assert cityboss.get("/api/v1/reports/monthly", params={"month": MONTH, "unit": unit}).status_code == 403


@pytest.mark.parametrize("who", ["hallboss", "staff", "insp"])
def test_hall_pdf_in_english_and_chinese(app, month: None, who: str) -> None:
    client = api_client(app, who)
    (hall,) = scorecard(client, "hall", hall_id=HALL)
    want = expected(who)
    english = read_pdf(client, unit=f"hall/{HALL}")
    text = english.text()
    assert f"Monthly report: {NANGUAN}, {MONTH}" in text
    cells = adjacent(text)
    assert {("Score", f"{hall['score']:.1f}"), ("Overtime", str(hall["overtime"])), ("Errors", str(hall["errors"])),
            ("Three zeros", "Yes" if hall["three_zeros"] else "No"),
            ("Presence", f"{100 * hall['presence']:.1f}%"),
            ("Resolved", str(want["complaint_status"]["resolved"])),
            ("Delay", str(want["complaint_category"]["delay"])),
            ("Spot check", str(want["inspection_kind"]["spot_check"])),
            ("Secret shopper", str(want["inspection_kind"]["secret_shopper"])),
            ("Critical", str(want["severity"]["critical"])),
            ("Rectified", str(want["case_status"]["rectified"])),
            ("Open", str(want["case_status"]["open"]))} <= cells
    assert not any(secret in text for secret in SECRETS)
    assert {f["BaseFont"][1] for f in english.fonts()} == {"Helvetica"}

    client.cookies.set("hw_lang", "zh_CN")
    chinese = read_pdf(client, unit=f"hall/{HALL}")
    text = chinese.text()
    assert f"月度报告: {NANGUAN}, {MONTH}" in text
    assert {("得分", f"{hall['score']:.1f}"), ("超时", str(hall["overtime"])),
            ("暗访", str(want["inspection_kind"]["secret_shopper"]))} <= adjacent(text)
    # Chinese in the shipped font, embedded (a subset, with its ToUnicode map): nothing relies on the reader's fonts
    shipped = font_file()
    assert shipped is not None and shipped.suffix == ".ttf"
    for font in chinese.fonts():
        name = font["BaseFont"][1]
        if name in ("Helvetica", "Helvetica-Bold"):
            continue
        descriptor = chinese.get(font["FontDescriptor"])
        assert "FontFile2" in descriptor and "ToUnicode" in font, name
        assert re.fullmatch(r"[A-Z]{6}\+NotoSansSC.*", name), name
        assert len(chinese.streams[descriptor["FontFile2"][1]]) < shipped.stat().st_size  # a subset


def test_scope_of_the_units(app, month: None) -> None:
    hallboss, staff, insp = api_client(app, "hallboss"), api_client(app, "staff"), api_client(app, "insp")
    for unit in ("hall/cc-chaoyang", "city/cc", "province", "hall/jlc-chuanying"):
        for client in (hallboss, staff):
            for fmt in ("pdf", "xlsx", "json"):
                answer = client.get("/api/v1/reports/monthly", params={"month": MONTH, "unit": unit, "format": fmt})
                assert answer.status_code == 403, (unit, fmt, answer.status_code)
    assert insp.get("/api/v1/reports/monthly", params={"unit": "city/jlc"}).status_code == 403
    assert insp.get("/api/v1/reports/monthly", params={"unit": "province"}).status_code == 403
    assert insp.get("/api/v1/reports/monthly", params={"unit": "hall/jlc-chuanying"}).status_code == 403
    assert insp.get("/api/v1/reports/monthly", params={"unit": "hall/nowhere"}).status_code == 422
    assert insp.get("/api/v1/reports/monthly", params={"unit": "city/cc", "format": "json"}).json()["name"] == \
        next(c.name for c in SITE.cities if c.id == "cc")
    # no unit: the user's own hall
    own = staff.get("/api/v1/reports/monthly", params={"month": MONTH, "format": "json"}).json()
    assert (own["level"], own["unit_id"]) == ("hall", HALL)
    assert own["cases_by_status"]["open"] == expected("staff")["case_status"]["open"]
    assert TestClient(app).get("/api/v1/reports/monthly").status_code == 401
    assert staff.get("/api/v1/reports/monthly", params={"month": "2026-13"}).status_code == 422
    assert staff.get("/api/v1/reports/monthly", params={"format": "doc"}).status_code == 422


def unit_options(html: str) -> list[str]:
    """The values of the report form's unit list."""
    form = html[html.index('<select name="unit">'):]
    return re.findall(r'<option value="([^"]+)"', form[:form.index("</select>")])


def test_page_offers_the_units_in_scope_and_downloads(app, month: None) -> None:
    staff = api_client(app, "staff")
    page = staff.get("/reports", params={"month": MONTH})
    assert page.status_code == 200
    assert unit_options(page.text) == [f"hall/{HALL}"]
    assert 'href="/reports"' in page.text  # the nav entry
    boss_options = unit_options(api_client(app, "boss").get("/reports").text)
    assert boss_options == ["province", *(f"city/{c.id}" for c in SITE.cities), *(f"hall/{h.id}" for h in SITE.halls)]
    city_options = unit_options(api_client(app, "cityboss").get("/reports").text)
    assert city_options == ["city/cc", *(f"hall/{h.id}" for h in SITE.halls if h.city == "cc")]
    download = staff.get("/reports/monthly", params={"month": MONTH, "unit": f"hall/{HALL}", "format": "xlsx"})
    assert download.status_code == 200 and download.content.startswith(b"PK")
    assert 'filename="hallwatch-hall-cc-nanguan-2026-11.xlsx"' in download.headers["content-disposition"]
    refused = staff.get("/reports/monthly", params={"unit": "province"}, headers={"accept": "text/html"})
    assert refused.status_code == 403 and "<html" in refused.text
    anonymous = TestClient(app, follow_redirects=False).get("/reports/monthly", params={"month": MONTH})
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=")


def test_this_month_runs_to_now(app, month: None) -> None:
    now = datetime.now(UTC)
    body = api_client(app, "boss").get("/api/v1/reports/monthly", params={"format": "json"}).json()
    assert body["month"] == f"{now.astimezone(TZ):%Y-%m}"
    assert body["waits"][-1]["day"] == f"{now.astimezone(TZ):%Y-%m-%d}"
    assert datetime.fromisoformat(body["until"]) <= datetime.now(UTC)


# ---- sending -----------------------------------------------------------------------------------------------


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A real HTTP server on a free port recording the JSON bodies POSTed to it."""
    bodies: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            bodies.append(json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0")))))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"errcode": 0, "errmsg": "ok"}')

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, name="test:webhook", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", bodies
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def mailbox() -> Iterator[tuple[int, list[Any]]]:
    """A real SMTP server (aiosmtpd) on a free port keeping the messages it accepts."""
    received: list[Any] = []

    class Keep:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's
            received.append(envelope)
            return "250 OK"

    port = free_port()
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


def test_reports_sent_through_the_channels(app, pool: ConnectionPool, month: None, webhook, mailbox) -> None:
    url, bodies = webhook
    smtp_port, mails = mailbox
    notify = NotifyConfig.model_validate({"base_url": "https://hallwatch.example", "channels": [
        {"id": "nanguan-robot", "kind": "wecom", "url": f"{url}/cgi-bin/webhook/send?key=k-secret-123",
         "scopes": [f"hall/{HALL}"], "locale": "zh_CN"},
        {"id": "center-hook", "kind": "webhook", "url": f"{url}/hook", "scopes": ["province", "city/cc"]},
        {"id": "center-mail", "kind": "email", "host": "127.0.0.1", "port": smtp_port, "security": "none",
         "sender": "hallwatch@example.org", "recipients": ["center@example.org"], "scopes": ["province"]},
        {"id": "cameras-only", "kind": "webhook", "url": f"{url}/cameras", "kinds": ["camera_offline"]},
        {"id": "dead", "kind": "webhook", "url": f"http://127.0.0.1:{free_port()}/x", "scopes": ["hall/" + HALL]},
    ]})
    with pool.connection() as conn:
        sent = send_reports(conn, SITE, month=Month.parse(MONTH), notify=notify)
        audited = conn.execute("SELECT subject, details FROM audit_log WHERE action = 'report.send' ORDER BY id")\
            .fetchall()
    # every enabled channel carrying all alert kinds, one message per scope; the specialist channel is left out
    assert [(d.channel_id, d.unit) for d in sent] == [
        ("nanguan-robot", f"hall/{HALL}"), ("center-hook", "province"), ("center-hook", "city/cc"),
        ("center-mail", "province"), ("dead", f"hall/{HALL}")]
    assert [d.error is None for d in sent] == [True, True, True, True, False]
    assert "cannot reach" in str(sent[-1].error)
    assert [s for s, _ in audited] == [f"report/{d.unit}/{MONTH}" for d in sent]
    assert audited[-1][1]["error"] == sent[-1].error and "k-secret-123" not in json.dumps([d for _, d in audited])

    robot, province, city = bodies
    (hall,) = scorecard(api_client(app, "boss"), "hall", hall_id=HALL)
    content = robot["markdown"]["content"]
    assert robot["msgtype"] == "markdown" and f"月度报告：{NANGUAN}，{MONTH}" in content
    assert f"**得分**: {hall['score']:.1f}" in content and f"**超时**: {hall['overtime']}" in content
    assert not any(secret in json.dumps(bodies) for secret in SECRETS) and "暗访" not in content
    (province_card,) = scorecard(api_client(app, "boss"), "province")
    assert province["title"] == f"Monthly report: {SITE.province.name}, {MONTH}"
    assert province["alert"]["scorecard"]["score"] == province_card["score"]
    assert province["alert"]["unit"] == "province" and city["alert"]["unit"] == "city/cc"
    (mail,) = mails
    assert mail.rcpt_tos == ["center@example.org"] and b"Monthly report" in mail.content

    # The links lead to the downloads, where the reader's own scope applies.
    link = urlsplit(robot["markdown"]["content"].rsplit("(", 1)[1].rstrip(")"))
    assert (link.scheme, link.netloc, link.path) == ("https", "hallwatch.example", "/reports/monthly")
    staff = api_client(app, "staff")
    pdf = staff.get(f"{link.path}?{link.query}")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert staff.get(f"/reports/monthly?month={MONTH}&unit=province&format=pdf").status_code == 403


def test_cli_makes_a_report_as_a_user_sees_it(month: None, site_dsn: str, tmp_path, monkeypatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, site_dsn)
    out = tmp_path / "nanguan.xlsx"
    assert hallwatch(["reports", "make", "--site", str(EXAMPLE_SITE), "--as", "staff", "--month", MONTH,
                      "--format", "xlsx", "--lang", "en", "--out", str(out)]) == 0
    book = load_workbook(out)
    want = expected("staff")
    assert counts(book["Inspections"], "By kind")["Secret shopper"] == want["inspection_kind"]["secret_shopper"]
    assert counts(book["Inspections"], "By kind")["Total"] == sum(want["inspection_kind"].values())
    assert hallwatch(["reports", "make", "--site", str(EXAMPLE_SITE), "--as", "staff", "--unit", "province",
                      "--out", str(tmp_path / "no.pdf")]) != 0
    assert not (tmp_path / "no.pdf").exists()
    assert "outside your scope" in capsys.readouterr().err


@pytest.mark.parametrize("who", ["boss", "staff"])
def test_reports_api_survives_any_input(app, people: None, who: str) -> None:
    """Schemathesis over the report API: no server error, every 422 names its field."""
    token = api_client(app, who).headers["Authorization"]
    assert fuzz_api(app, token, prefixes=("/api/v1/reports",), max_examples=25, field_errors_only=True) == [
        "GET /api/v1/reports/monthly"]


def test_cli_sends_last_months_reports(month: None, site_dsn: str, tmp_path, monkeypatch, webhook,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    url, bodies = webhook
    site = yaml.safe_load(EXAMPLE_SITE.read_text())
    site["notify"] = {"base_url": "https://hallwatch.example", "channels": [
        {"id": "center", "kind": "webhook", "url": f"{url}/hook", "scopes": [f"hall/{HALL}"], "locale": "en"},
        {"id": "it-desk", "kind": "webhook", "url": f"{url}/it", "kinds": ["camera_offline"]}]}
    monkeypatch.setenv(DATABASE_URL_ENV, site_dsn)
    site_file = write_site(tmp_path / "site.yaml", site)
    assert hallwatch(["reports", "send", "--site", str(site_file), "--month", MONTH]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{MONTH} hall/{HALL} -> center: sent"]
    (body,) = bodies
    assert body["title"] == f"Monthly report: {NANGUAN}, {MONTH}" and body["alert"]["month"] == MONTH
    assert hallwatch(["reports", "send", "--site", str(site_file), "--month", MONTH, "--channel", "it-desk"]) == 0
    assert len(bodies) == 2 and bodies[1]["alert"]["unit"] == "province"
    assert hallwatch(["reports", "send", "--site", str(site_file), "--channel", "nope"]) == 1
    assert "no enabled notification channel 'nope'" in capsys.readouterr().err
