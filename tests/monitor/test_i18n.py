"""Every text a user reads comes from the translation catalogue, in Simplified Chinese and English.

- The catalogue is complete: every marked text in the code and templates has a Chinese translation,
  and the catalogue holds nothing that is no longer used (run `scripts/i18n.sh` after changing texts).
- No template has a visible text or attribute that is not marked.
- The language follows the site's default, the user's choice (remembered) and the switch's cookie.
"""

from __future__ import annotations

import re
from enum import StrEnum
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from jinja2 import Environment

from analytics.presence import DeskState
from core.config import SiteConfig
from core.config.geography import HallFlow, HallSize, ZoneKind
from ingest.health import CameraState, DecodeMode
from monitor.app import create_app
from monitor.labels import LABELS
from storage.auth.model import Role
from storage.records.alerts import AlertKind, AlertState
from storage.records.cases import CaseStatus, SourceKind
from storage.records.complaints import Category, Channel, ComplaintStatus
from storage.records.inspections import FindingCategory, InspectionKind, InspectionStatus, Severity
from tests.fix_auth import PASSWORD, add_user, browser_login, meta_csrf
from tests.fix_sites import REPO, SITE

CATALOGUE = REPO / "monitor" / "locale" / "zh_CN" / "LC_MESSAGES" / "messages.po"
TEMPLATES = Path(str(resources.files("monitor") / "templates"))
VISIBLE_ATTRIBUTES = {"placeholder", "title", "aria-label", "alt", "data-confirm", "data-label", "label"}
NOT_TEXT = {"script", "style", "code", "pre"}  # code shows commands and names, typed as they are
LETTERS = re.compile(r"[A-Za-z]")
PROPER_NAMES = re.compile(r"\b(hallwatch|MJPEG|WebRTC|sha256)\b")  # names, the same in every language


def _marked_texts() -> set[str]:
    # As monitor/locale/babel.cfg and scripts/i18n.sh extract them.
    method_map = [("**/static/vendor/**", "ignore"), ("**/static/**.js", "javascript"),
                  ("**/templates/**.html", "jinja2"), ("**.py", "python")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    found: set[str] = set()
    for package in ("monitor", "core", "storage"):
        for _file, _line, message, _comments, _context in extract_from_dir(
                REPO / package, method_map, options, keywords={"_": None, "N_": None, "t": None, "both": None,
                                                               "gettext": None, "ngettext": (1, 2)}):
            found.add(message if isinstance(message, str) else message[0])
    return found


def test_catalogue_translates_every_marked_text_and_nothing_else() -> None:
    with CATALOGUE.open("rb") as f:
        catalogue = read_po(f, locale="zh_CN")
    translated = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalogue if m.id}
    marked = {m if isinstance(m, str) else m[0] for m in _marked_texts()}
    assert len(marked) > 20
    untranslated = sorted(m for m in marked if m not in translated or not translated[m].string
                          or translated[m].fuzzy)
    stale = sorted(set(translated) - marked)
    assert not untranslated, f"texts without a Chinese translation (run scripts/i18n.sh): {untranslated}"
    assert not stale, f"catalogue entries no code uses (run scripts/i18n.sh): {stale}"
    for message in translated.values():
        string = message.string if isinstance(message.string, str) else message.string[0]
        assert set(re.findall(r"%\(\w+\)s", message.id if isinstance(message.id, str) else message.id[0])) == \
            set(re.findall(r"%\(\w+\)s", string)), f"placeholders differ in {message.id!r}"


def _words(text: str) -> bool:
    """Whether `text` has words to translate: letters outside the product's name, and not an example of an
    identifier or a time (one token with a digit in it: `w1`, `complaint/12`, `2026-03-01T10:42:00+08:00`)."""
    text = PROPER_NAMES.sub("", text).strip()
    is_example = re.fullmatch(r"\S+", text) is not None and re.search(r"\d", text) is not None
    return LETTERS.search(text) is not None and not is_example


class _VisibleText(HTMLParser):
    """Collects text nodes and visible attribute values that contain letters."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.skipping: list[str] = []
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in NOT_TEXT:
            self.skipping.append(tag)
        input_type = dict(attrs).get("type")
        for name, value in attrs:
            visible = name in VISIBLE_ATTRIBUTES or (name == "value" and input_type in {"submit", "button"})
            if visible and value and _words(value):
                self.found.append(f"{tag}[{name}]={value!r}")

    def handle_endtag(self, tag: str) -> None:
        if self.skipping and self.skipping[-1] == tag:
            self.skipping.pop()

    def handle_data(self, data: str) -> None:
        if not self.skipping and _words(data):
            self.found.append(data.strip())


def _unmarked(source: str) -> list[str]:
    """Visible texts of a template that are literal, outside `{{ ... }}`, `{% ... %}` and `{# ... #}`:
    each template construct is replaced by a letterless stand-in before the HTML is read."""
    env = Environment(extensions=["jinja2.ext.i18n"])
    kept = "".join(value if kind == "data" else "\u2022" for _line, kind, value in env.lex(source))
    parser = _VisibleText()
    parser.feed(re.sub("\u2022+", "\u2022", kept))
    return parser.found


def test_unmarked_text_is_found() -> None:
    assert _unmarked('<p title="{{ _(\'Hi\') }}">{{ _("Hello") }} {{ name }}</p><code>hallwatch</code>') == []
    assert _unmarked('<p>Hello {{ name }}</p>') == ["Hello •"]
    assert _unmarked('<input type="submit" value="Save"><a title="Open it">x</a>') == [
        "input[value]='Save'", "a[title]='Open it'", "x"]


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_templates_have_no_unmarked_text(template: str) -> None:
    assert _unmarked((TEMPLATES / template).read_text()) == []


@pytest.mark.parametrize(("group", "enum"), [
    ("role", Role), ("alert_kind", AlertKind), ("alert_state", AlertState), ("case_source", SourceKind),
    ("case_status", CaseStatus), ("channel", Channel), ("complaint_category", Category),
    ("complaint_status", ComplaintStatus), ("inspection_kind", InspectionKind),
    ("inspection_status", InspectionStatus), ("severity", Severity), ("finding_category", FindingCategory),
    ("camera_state", CameraState), ("decode_mode", DecodeMode), ("desk_state", DeskState),
    ("hall_size", HallSize), ("hall_flow", HallFlow), ("zone_kind", ZoneKind)])
def test_every_stored_value_has_a_name(group: str, enum: type[StrEnum]) -> None:
    assert set(LABELS[group]) == {member.value for member in enum}


def _chinese_site() -> SiteConfig:
    return SITE.model_copy(update={"province": SITE.province.model_copy(update={"locale": "zh_CN"})})


def test_site_default_user_choice_and_cookie(pool) -> None:  # type: ignore[no-untyped-def]
    english, chinese = create_app(SITE, pool), create_app(_chinese_site(), pool)
    assert 'lang="en"' in TestClient(english).get("/login").text
    login_page = TestClient(chinese).get("/login").text
    assert 'lang="zh-CN"' in login_page and "登录" in login_page and "Log in" not in login_page

    add_user(pool, "lin", "center_operator")
    client = browser_login(chinese, "lin")
    status = client.get("/")
    assert "退出" in status.text and "Log out" not in status.text

    # The user chooses English: remembered in the database, so it holds in a new session.
    chosen = client.post("/language", data={"locale": "en", "csrf_token": meta_csrf(status.text)},
                         headers={"referer": "http://testserver/center?rotate=60&tiles=2"}, follow_redirects=False)
    assert chosen.status_code == 303 and chosen.headers["location"] == "/center?rotate=60&tiles=2"
    again = browser_login(chinese, "lin")
    assert "Log out" in again.get("/").text

    # Without the session's CSRF token the choice is refused.
    refused = again.post("/language", data={"locale": "zh_CN"}, follow_redirects=False)
    assert refused.status_code == 403 and "Log out" in again.get("/").text

    # Before signing in the switch sets a cookie that the login page follows.
    anonymous = TestClient(chinese, follow_redirects=False)
    assert anonymous.post("/language", data={"locale": "en"}).status_code == 303
    assert "Log in" in anonymous.get("/login").text
    assert anonymous.post("/language", data={"locale": "fr"}).status_code == 422
    assert PASSWORD not in anonymous.get("/login").text
