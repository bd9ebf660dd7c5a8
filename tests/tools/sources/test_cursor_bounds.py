"""Forged cursors cannot amplify provider work: positions are bounded by what a real page holds."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from casebridge.tools import cursor as cursors
from casebridge.tools.search_cases import MAX_LIMIT as MAX_PAGE_SIZE
from tests.support import Emulators, text_of

LIST_PATHS = {
    "clearinghouse": "/api/v2p1/cases",
    "commcare": "/api/case/v2",
    "certn": "/api/public/cases/",
}


def list_requests(emulators: Emulators, provider: str) -> list[Any]:
    return [r for r in emulators[provider].requests if LIST_PATHS[provider] in r.path and r.method == "GET"]


async def search(client: Client, cursor: str, limit: int = 1) -> Any:
    return await client.call_tool("search_cases", {"cursor": cursor, "limit": limit})


async def test_commcare_cursor_with_a_huge_skip_is_refused_before_any_request(
    client: Client, emulators: Emulators
) -> None:
    forged = cursors.encode("commcare", {"case_type": "patient", "status": "any"}, {"c": None, "k": 4999})
    result = await search(client, forged)
    assert result.is_error, text_of(result)
    error = result.structured_content["error"]
    assert error["category"] == "invalid_input" and error["field"] == "cursor"
    assert "not one this server issued" in error["message"]
    assert list_requests(emulators, "commcare") == []


async def test_commcare_skip_at_the_bound_fetches_under_two_pages(client: Client, emulators: Emulators) -> None:
    state = {"c": None, "k": MAX_PAGE_SIZE - 1}
    result = await search(client, cursors.encode("commcare", {"case_type": "patient", "status": "any"}, state))
    assert not result.is_error, text_of(result)
    fetched = sum(int(r.params("limit")[0]) for r in list_requests(emulators, "commcare"))
    assert 0 < fetched <= 2 * MAX_PAGE_SIZE
    refused = await search(client, cursors.encode("commcare", {"status": "any"}, {"c": None, "k": MAX_PAGE_SIZE}))
    assert refused.is_error and "not one this server issued" in text_of(refused)


@pytest.mark.parametrize(
    ("provider", "state", "limit"),
    [
        ("certn", {"p": 100_000, "k": 99, "s": 100}, MAX_PAGE_SIZE),
        ("certn", {"p": 1, "k": 99, "s": 100}, MAX_PAGE_SIZE),
        # The Clearinghouse sets its own page size: a skip past a page's end costs that one page.
        ("clearinghouse", {"c": None, "k": 1000}, 1),
    ],
)
async def test_other_providers_forged_positions_cost_at_most_two_requests(
    client: Client, emulators: Emulators, provider: str, state: dict[str, Any], limit: int
) -> None:
    result = await search(client, cursors.encode(provider, {}, state), limit=limit)
    requests = list_requests(emulators, provider)
    assert 1 <= len(requests) <= 2, (text_of(result), [r.query for r in requests])
    for r in requests:
        assert int((r.params("page_size") or ["0"])[0]) <= 2 * MAX_PAGE_SIZE
