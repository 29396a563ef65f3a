"""Storage's refusals reach users in their language: every error of the `Refusal` family (RecordError and its
kinds, the user and value errors) raised in storage/ is built from an `N_()`-marked template whose named
placeholders are exactly the parameters it is given; each template has a Chinese translation keeping those
placeholders; and the web app answers a Chinese reader in Chinese and an English one in English, with the same
status and the same machine-readable parts (`loc`, `type`)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from psycopg_pool import ConnectionPool

from storage.auth.users import set_locale
from tests.fix_auth import add_user, api_client, browser_login
from tests.fix_records import complaint
from tests.fix_sites import REPO

CATALOGUE = REPO / "monitor" / "locale" / "zh_CN" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)([sdr])")
ROOT_ERROR = "Refusal"  # core/errors.py: a message a user reads, from a catalogue template


def _modules() -> list[Path]:
    return sorted((REPO / "storage").rglob("*.py"))


def _family() -> set[str]:
    """The names of the classes that derive from `Refusal`, in core/errors.py and storage/."""
    bases: dict[str, set[str]] = {}
    for path in [REPO / "core" / "errors.py", *_modules()]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef):
                bases[node.name] = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
    family = {ROOT_ERROR}
    while grown := {name for name, of in bases.items() if of & family} - family:
        family |= grown
    return family


def _callee(call: ast.Call) -> str:
    return call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", "")


def _constructions() -> list[tuple[str, ast.Call]]:
    """Every call that builds an error of the family in storage/: a family class by name, or, in a `raise`, a
    class held by a variable (`raise refuse(...)`: a lower-case callee)."""
    family = _family()
    found: list[tuple[str, ast.Call]] = []
    for path in _modules():
        tree = ast.parse(path.read_text(), str(path))
        raised = {id(n.exc) for n in ast.walk(tree) if isinstance(n, ast.Raise) and isinstance(n.exc, ast.Call)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and (_callee(node) in family
                                               or (id(node) in raised and _callee(node)[:1].islower())):
                found.append((f"{path.relative_to(REPO)}:{node.lineno}", node))
    return found


def _template(call: ast.Call) -> str | None:
    """The literal text of `call`'s first argument when it is `N_("...")`."""
    if not call.args or not isinstance(first := call.args[0], ast.Call) or _callee(first) != "N_":
        return None
    text = first.args[0] if len(first.args) == 1 else None
    return text.value if isinstance(text, ast.Constant) and isinstance(text.value, str) else None


def test_every_refusal_in_storage_is_a_marked_template_with_its_parameters() -> None:
    built = _constructions()
    assert len(built) > 90, "the family's constructions were not found: did the error classes move?"
    for where, call in built:
        template = _template(call)
        assert template is not None, f"{where}: {_callee(call)}(...) needs an N_(\"...\") literal as its message"
        assert len(call.args) == 1, f"{where}: parameters are passed by name"
        given = {k.arg for k in call.keywords} - {"field"}
        assert None not in given, f"{where}: no **parameters: each is named where the error is raised"
        named = {name for name, _kind in PLACEHOLDER.findall(template)}
        assert named == given, f"{where}: {template!r} names {sorted(named)} but is given {sorted(given)}"  # type: ignore[type-var]
        assert "%" not in PLACEHOLDER.sub("", template), f"{where}: a bare % in {template!r}"


def test_every_template_is_translated_with_the_same_placeholders() -> None:
    with CATALOGUE.open("rb") as f:
        catalogue = read_po(f, locale="zh_CN")
    templates = {_template(call): where for where, call in _constructions()}
    assert None not in templates
    for template, where in templates.items():
        assert template is not None
        message = catalogue.get(template)
        assert message is not None and message.string and not message.fuzzy, \
            f"{where}: {template!r} has no Chinese translation (write it and run the catalogue update)"
        assert sorted(PLACEHOLDER.findall(message.string)) == sorted(PLACEHOLDER.findall(template)), \
            f"{where}: the translation of {template!r} changes its placeholders: {message.string!r}"
        assert re.search(r"[\u4e00-\u9fff]", message.string), f"{template!r} is 'translated' without Chinese"


@pytest.fixture
def readers(pool: ConnectionPool) -> None:
    """A complaints officer and an inspector reading Chinese, and the same reading English (the site's)."""
    for name, role in [("desk_zh", "complaints_officer"), ("desk_en", "complaints_officer"),
                       ("insp_zh", "inspector"), ("insp_en", "inspector")]:
        user = add_user(pool, name, role)
        if name.endswith("_zh"):
            with pool.connection() as conn:
                set_locale(conn, user=user, locale="zh_CN")


def test_a_forbidden_complaint_step_is_refused_in_the_readers_language(app, pool: ConnectionPool,
                                                                      readers: None) -> None:
    answers = {}
    for reader in ("desk_zh", "desk_en"):
        complaint_id = complaint(pool)
        client = api_client(app, reader)
        url = f"/api/v1/complaints/{complaint_id}/transition"
        assigned = client.post(url, json={"to": "assigned", "assignee": reader})
        assert assigned.status_code == 200, assigned.text
        refused = client.post(url, json={"to": "closed"})
        assert refused.status_code == 409, refused.text
        answers[reader] = (complaint_id, refused.json()["detail"])
    zh_id, zh = answers["desk_zh"]
    en_id, en = answers["desk_en"]
    assert en == f"complaint {en_id} is assigned: cannot become closed (allowed: assigned, in_progress, rejected)"
    # The statuses by their Chinese names, the list joined the Chinese way; the id as it is.
    assert zh == f"投诉 {zh_id} 当前状态为“已分派”，不能改为“已关闭”（可改为：已分派、办理中、不予受理）"

    # The same refusal through the page's form is an error page in the reader's language.
    page = browser_login(app, "desk_zh")
    form = page.post(f"/complaints/{zh_id}/transition", data={"to": "closed", "csrf_token": page.csrf},
                     headers={"accept": "text/html"})
    assert form.status_code == 409 and "<html" in form.text
    assert f"投诉 {zh_id} 当前状态为“已分派”" in form.text and "cannot become" not in form.text


def test_a_refusal_a_route_turned_into_a_422_keeps_its_field_and_speaks_the_readers_language(
        app, readers: None) -> None:
    body = {"kind": "spot_check", "hall_id": "nowhere", "planned_at": "2026-12-01T09:00:00+08:00",
            "inspector": "Wang"}
    answers = {reader: api_client(app, reader).post("/api/v1/inspections", json=body)
               for reader in ("insp_zh", "insp_en")}
    for answer in answers.values():
        assert answer.status_code == 422, answer.text
    zh, en = answers["insp_zh"].json()["detail"], answers["insp_en"].json()["detail"]
    assert en == [{"loc": ["body", "hall_id"], "msg": "no hall 'nowhere'", "type": "value_error"}]
    assert zh == [{"loc": ["body", "hall_id"], "msg": "没有大厅“nowhere”", "type": "value_error"}]


def test_a_refused_user_is_explained_in_the_admins_language(app, pool: ConnectionPool) -> None:
    for name in ("admin_zh", "admin_en"):
        admin = add_user(pool, name, "admin", "city/cc")
        if name == "admin_zh":
            with pool.connection() as conn:
                set_locale(conn, user=admin, locale="zh_CN")
    answers = {}
    for name in ("admin_zh", "admin_en"):
        client = api_client(app, name)
        wider = client.post("/api/v1/users", json={"name": f"new_{name}", "role": "manager", "scope": "province",
                                                   "password": "long enough secret"})
        taken = client.post("/api/v1/users", json={"name": name, "role": "manager", "scope": "city/cc",
                                                   "password": "long enough secret"})
        answers[name] = (wider.status_code, wider.json()["detail"], taken.status_code, taken.json()["detail"])
    assert answers["admin_en"] == (403, "scope province is outside your scope city/cc", 409,
                                   "user 'admin_en' exists already")
    assert answers["admin_zh"] == (403, "范围 province 超出了您的范围（city/cc）", 409, "用户“admin_zh”已存在")
