"""search_cases and get_case end to end, in both eras, against a CommCare server with only the v0.5 API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from mcp import Client

from casebridge.sandbox.commcare.app import build
from casebridge.sandbox.commcare.data import dataset
from casebridge.sandbox.emulation import Emulator, LoopbackServer, serve
from tests.support import Emulators, hold, make_server, text_of

DATA = dataset()


@pytest.fixture(scope="module")
def only_v05() -> Emulator:
    return build(v2=False)


@pytest.fixture(scope="module")
def v05_server(only_v05: Emulator) -> Iterator[LoopbackServer]:
    assert only_v05.app is not None
    with serve(only_v05.app) as server:
        yield server


@pytest.fixture
async def v05_client(emulators: Emulators, v05_server: LoopbackServer, era: str) -> AsyncIterator[Client]:
    server = make_server(emulators, commcare_base_url=v05_server.url, read_only=True)
    async with hold(Client(server, mode=era)) as c:  # type: ignore[arg-type]
        yield c


async def call(client: Client, name: str, args: dict[str, Any]) -> Any:
    result = await client.call_tool(name, args)
    assert not result.is_error, text_of(result)
    return result


async def test_search_pages_and_get_on_a_v05_only_server(v05_client: Client, only_v05: Emulator) -> None:
    only_v05.reset()
    args = {"provider": "commcare", "commcare": {"case_type": "patient", "status": "closed"}, "limit": 6}
    first = await call(v05_client, "search_cases", args)
    data = first.structured_content
    assert len(data["cases"]) == 6 and data["next_cursor"] and data["total"]
    second = await call(v05_client, "search_cases", {"cursor": data["next_cursor"]})
    refs = [c["ref"] for r in (first, second) for c in r.structured_content["cases"]]
    assert len(set(refs)) == 12  # the cursor continues by offset and keeps the page size
    expected = sorted(
        (c for c in DATA.cases if c.case_type == "patient" and c.closed), key=lambda c: (c.indexed_on, c.case_id)
    )
    assert refs == [f"commcare:{c.case_id}" for c in expected[:12]]
    assert only_v05.requests[-1].params("offset") == ["6"]

    detail = await call(v05_client, "get_case", {"ref": refs[0], "include": ["parent"]})
    case = DATA.by_id[refs[0].removeprefix("commcare:")]
    assert detail.structured_content["title"] == case.case_name
    assert detail.structured_content["status"] == "closed"
    assert detail.structured_content["parent"]["ref"] == f"commcare:{case.indices['parent']['case_id']}"


async def test_missing_case_on_a_v05_only_server_is_not_found(v05_client: Client) -> None:
    result = await v05_client.call_tool("get_case", {"ref": "commcare:nosuchcase1"})
    assert result.is_error and result.structured_content["error"]["category"] == "not_found"


async def test_v2_only_filter_is_refused_with_the_reason(v05_client: Client) -> None:
    await call(v05_client, "search_cases", {"provider": "commcare", "limit": 1})
    result = await v05_client.call_tool(
        "search_cases", {"provider": "commcare", "commcare": {"opened_after": "2024-01-01"}}
    )
    assert result.is_error
    error = result.structured_content["error"]
    assert error["category"] == "invalid_input" and error["field"] == "commcare.opened_after"
    assert "v0.5" in error["message"]


async def test_seed_requests_through_the_tool(v05_client: Client, only_v05: Emulator) -> None:
    """The issue's v0.5 requests, as an assistant would send them."""
    owner = DATA.cases[0].owner_id
    await call(
        v05_client,
        "search_cases",
        {
            "provider": "commcare",
            "commcare": {"owner_id": owner, "server_modified_after": "2021-01-01", "sort": "-server_modified"},
        },
    )
    sent = only_v05.requests[-1]
    assert sent.params("order_by") == ["-server_date_modified"]
    assert sent.params("server_date_modified_start") == ["2021-01-01"] and sent.params("owner_id") == [owner]
    await call(
        v05_client,
        "search_cases",
        {"provider": "commcare", "commcare": {"status": "closed", "indexed_after": "2021-01-01T06:05:42"}},
    )
    sent = only_v05.requests[-1]
    assert sent.params("indexed_on_start") == ["2021-01-01T06:05:42"] and sent.params("closed") == ["true"]
    user = DATA.cases[0].user_id
    rows = await call(
        v05_client,
        "search_cases",
        {"provider": "commcare", "commcare": {"user_id": user, "show_properties": ["dob"]}, "limit": 3},
    )
    assert only_v05.requests[-1].params("user_id") == [user]
    assert "properties.dob" in text_of(rows) or not rows.structured_content["cases"]
