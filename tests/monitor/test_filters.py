"""Filter forms send an empty value for "any": it means no filter, on the API and on the pages."""

from __future__ import annotations

import pytest

from tests.fix_auth import api_client, browser_login

LISTS = ["/api/v1/absences", "/api/v1/officers", "/api/v1/complaints", "/api/v1/inspections", "/api/v1/shifts"]
PAGES = ["/absences", "/officers", "/rosters", "/complaints", "/inspections"]


@pytest.mark.parametrize("path", LISTS)
def test_an_empty_hall_filter_lists_every_hall_in_scope(app, people, path: str) -> None:
    client = api_client(app, "root")
    unfiltered = client.get(path)
    assert unfiltered.status_code == 200, unfiltered.text
    assert client.get(path, params={"hall_id": ""}).json() == unfiltered.json()


@pytest.mark.parametrize("path", PAGES)
def test_a_page_filtered_by_any_hall_answers(app, people, path: str) -> None:
    response = browser_login(app, "root").get(path, params={"hall_id": ""})
    assert response.status_code == 200, (path, response.status_code)
