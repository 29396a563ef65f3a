"""A probe of the whole web app for covert plans: with a covert visit of cc-nanguan present (planned,
viewed, scored, a finding, evidence, a case, a cancelled second plan), every GET route of every route
module, API and page, asked by each role scoped to that hall, shows no trace of it: no id, title, text,
audit subject, and no count of inspections, findings or cases above zero (none of those is open)."""

from __future__ import annotations

import importlib
import json
import re
from typing import Any

import pytest
from fastapi.routing import APIRoute

from monitor.app import route_modules
from storage.auth.model import Role
from tests.fix_auth import browser_login
from tests.fix_records import HALL, traces

STREAMS = re.compile(r"/mjpeg$")  # never ends by itself: the live tests cover it
# Routes whose default answer (PDF, Excel) cannot be searched: asked for their JSON form too.
ALSO_AS_JSON = {"/api/v1/reports/monthly": "?format=json", "/reports/monthly": "?format=json"}
COUNTED = re.compile(r"inspection|finding|case", re.IGNORECASE)


def get_routes() -> list[str]:
    found = []
    for name in route_modules():
        module = importlib.import_module(name)
        for route in getattr(module, "router", None).routes if hasattr(module, "router") else []:
            if isinstance(route, APIRoute) and "GET" in (route.methods or set()) and not STREAMS.search(route.path):
                found.append(route.path)
    return sorted(set(found))


def fill(path: str, ids: dict[str, str]) -> str:
    """The route with its parameters filled: the covert records' own ids where the route names them."""
    params = re.findall(r"{(\w+)}", path)
    unknown = [p for p in params if p not in ids]
    assert not unknown, f"{path}: the probe does not know what to put in {unknown}; teach it"
    return re.sub(r"{(\w+)}", lambda m: ids[m[1]], path)


def positive_counts(value: Any, key: str = "") -> list[str]:
    """Keys about inspections, findings or cases that count something above zero, anywhere in a JSON answer."""
    if isinstance(value, dict):
        return [k for k2, v in value.items() for k in positive_counts(v, k2)]
    if isinstance(value, list):
        return [k for item in value for k in positive_counts(item, key)]
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0 and COUNTED.search(key) \
            and not key.endswith("_id") and key != "id":
        return [key]
    return []


@pytest.mark.parametrize("role", list(Role))
def test_no_route_betrays_a_covert_visit_to_its_hall(app, covert: dict[str, Any], role: Role) -> None:
    ids = {"inspection_id": str(covert["iid"]), "hall_id": HALL, "camera_id": "cam1", "window_id": "w1",
           "city_id": "cc", "name": f"ng-{role.value}", "officer_id": "1", "complaint_id": "1", "alert_id": "x"}
    for subject in covert["subjects"]:
        kind, _, number = subject.partition("/")
        ids.setdefault(f"{kind}_id", number)
    client = browser_login(app, f"ng-{role.value}")
    # An inspection kind's name alone betrays nothing: the pages list every kind in their filters.
    betraying = [t for t in traces(covert) if t != "secret_shopper"]
    routes = get_routes()
    assert len(routes) > 50, routes  # the probe really walks the app
    assert set(ALSO_AS_JSON) <= set(routes), "a route the probe asks as JSON is gone"
    urls = [fill(p, ids) for p in routes] + [fill(p, ids) + q for p, q in ALSO_AS_JSON.items() if p in routes]
    for path, url in zip(routes + [p for p in ALSO_AS_JSON if p in routes], urls, strict=True):
        response = client.get(url)
        camera_down = "/live/" in path and response.status_code in (502, 503)  # no camera runs in this test
        assert response.status_code < 500 or camera_down, (role, url, response.status_code)
        if "{inspection_id}" in path or "{case_id}" in path or "{evidence_id}" in path:
            assert response.status_code in (403, 404), (role, url, response.status_code)
        text = response.text
        found = [t for t in betraying if t in text]
        assert not found, (role.value, url, found)
        if response.headers.get("content-type", "").startswith("application/json"):
            assert positive_counts(json.loads(text)) == [], (role, url, positive_counts(json.loads(text)))
