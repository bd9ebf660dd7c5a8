"""CommCareSource over the real client and the emulator on loopback: filters, paging state, details."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

import casebridge.tools.sources.commcare as commcare_source
from casebridge.providers.commcare.client import CommCareClient
from casebridge.providers.errors import NotFound
from casebridge.providers.http import HttpPolicy
from casebridge.sandbox.commcare.app import SANDBOX_API_KEY, SANDBOX_DOMAIN, SANDBOX_USERNAME, build
from casebridge.sandbox.commcare.data import dataset
from casebridge.sandbox.emulation import Emulator, LoopbackServer, serve
from casebridge.tools.sources.commcare import CommCareFilters, CommCareSource

DATA = dataset()
POLICY = HttpPolicy(deadline=8.0, attempts=3, wait_initial=0.01, wait_max=0.05, wait_jitter=0.0, max_retry_after=1.0)


@pytest.fixture(scope="module")
def emulator() -> Emulator:
    return build()


@pytest.fixture(scope="module")
def server(emulator: Emulator) -> Iterator[LoopbackServer]:
    assert emulator.app is not None
    with serve(emulator.app) as s:
        yield s


@pytest.fixture(autouse=True)
def _reset(emulator: Emulator) -> None:
    emulator.reset()


@pytest.fixture
async def source(server: LoopbackServer) -> AsyncIterator[CommCareSource]:
    client = CommCareClient.connect(server.url, SANDBOX_USERNAME, SANDBOX_API_KEY, SANDBOX_DOMAIN, policy=POLICY)
    src = CommCareSource(client, sandbox=True)
    try:
        yield src
    finally:
        await src.aclose()


def ids(page: Any) -> list[str]:
    return [c.ref.removeprefix("commcare:") for c in page.cases]


# -- filters -------------------------------------------------------------------------------------


def test_filters_to_params() -> None:
    f = CommCareFilters(
        case_type="pregnancy",
        owner_id="abc123",
        status="open",
        name="Pregnancy: Rose Das",
        external_id="PAT-01000",
        device_modified_after=date(2024, 1, 1),
        opened_before=date(2025, 12, 31),
        closed_after=date(2024, 2, 1),
        properties={"village": "Rampur", "risk_level": ""},
        parent_case_id="8b7e9c60-1a2b",
    )
    assert f.to_params() == {
        "case_type": "pregnancy",
        "owner_id": "abc123",
        "case_name": "Pregnancy: Rose Das",
        "external_id": "PAT-01000",
        "indices.parent": "8b7e9c60-1a2b",
        "closed": False,
        "last_modified.gte": "2024-01-01",
        "date_opened.lte": "2025-12-31",
        "date_closed.gte": "2024-02-01",
        "properties.village": "Rampur",
        "properties.risk_level": "",
    }
    assert CommCareFilters().to_params() == {}
    assert CommCareFilters(status="closed").to_params() == {"closed": True}


@pytest.mark.parametrize(
    "bad",
    [
        {"unknown": 1},
        {"owner_id": "a b"},
        {"owner_id": "x" * 65},
        {"case_type": "patient&closed=true"},
        {"status": "pending"},
        {"name": "line\nbreak"},
        {"name": "x" * 256},
        {"external_id": "../../etc"},
        {"properties": {"1bad": "x"}},
        {"properties": {"xml_thing": "x"}},
        {"properties": {"ok": "x" * 201}},
        {"properties": {"ok": "tab\there"}},
        {"properties": {f"p{i}": "x" for i in range(11)}},
        {"parent_case_id": "abc/def"},
        {"opened_after": "2024-05-01", "opened_before": "2024-01-01"},
        {"device_modified_after": "last week"},
        {"indexed_after": "2021-01-01T25:00:00"},
        {"indexed_after": 20210101},
        {"owner_id": "abc", "user_id": "def"},
        {"case_ids": ["abc123"], "case_type": "patient"},
        {"case_ids": [f"id{i:04d}" for i in range(21)]},
        {"external_id": []},
        {"sort": "name"},
        {"offset": -1},
        {"show_properties": ["1bad"]},
    ],
)
def test_filters_refuse_odd_input(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        CommCareFilters.model_validate(bad)


def test_filter_descriptions_are_short() -> None:
    schema = CommCareFilters.model_json_schema()
    for name, prop in schema["properties"].items():
        # Date ranges are described once, in the object's description; their names say what they bound.
        if name.endswith(("_after", "_before")) and name != "indexed_after":
            assert "description" not in prop, name
            continue
        assert 0 < len(prop["description"]) <= 80, name
    assert "*_before" in schema["description"] and "2021-01-01T06:05:42" in schema["description"]


def test_check_id() -> None:
    src = CommCareSource.__new__(CommCareSource)
    assert src.check_id(" 2fd2b0a3-5c1c-4d2b-9ab3-6e4f9c8d1a77 ") == "2fd2b0a3-5c1c-4d2b-9ab3-6e4f9c8d1a77"
    assert src.check_id("45WKYXQRFFU3AT4Y022EX7HF2") == "45WKYXQRFFU3AT4Y022EX7HF2"
    for bad in ("", "abc", "a/b/c/d/e", "x" * 65, "../etc/passwd", "id with space"):
        with pytest.raises(ValueError, match="45WKYXQRFFU3AT4Y022EX7HF2"):
            src.check_id(bad)


# -- search --------------------------------------------------------------------------------------


async def test_search_summaries(source: CommCareSource) -> None:
    page = await source.search(CommCareFilters(case_type="pregnancy", status="open"), None, 5)
    expected = [c for c in DATA.cases if c.case_type == "pregnancy" and not c.closed]
    assert page.total == len(expected)
    assert ids(page) == [c.case_id for c in expected[:5]]
    first, case = page.cases[0], expected[0]
    assert first.ref == f"commcare:{case.case_id}"
    assert first.title == case.case_name
    assert first.status == "open"
    assert first.date == case.date_opened.date().isoformat()
    # The search fixed the type, so the line leaves it out; the external id stays.
    assert first.facts == ({"external_id": case.external_id} if case.external_id else {})
    assert page.state is not None


async def test_search_walks_every_page_once(source: CommCareSource) -> None:
    filters = CommCareFilters(case_type="patient", properties={"village": "Kibera"}, opened_after=date(2022, 1, 1))
    expected = [
        c.case_id
        for c in DATA.cases
        if c.case_type == "patient" and c.properties["village"] == "Kibera" and c.date_opened.date() >= date(2022, 1, 1)
    ]
    seen: list[str] = []
    state = None
    pages = 0
    while True:
        page = await source.search(filters, state, 7)
        assert page.total == len(expected)
        seen += ids(page)
        pages += 1
        if page.state is None:
            break
        state = page.state
        assert len(page.cases) == 7
    assert pages >= 3
    assert seen == expected


async def test_search_children_by_parent(source: CommCareSource) -> None:
    household = next(c for c in DATA.cases if c.case_type == "household" and len(DATA.children[c.case_id]) >= 3)
    page = await source.search(CommCareFilters(parent_case_id=household.case_id), None, 10)
    assert set(ids(page)) == {c.case_id for c in DATA.children[household.case_id] if not c.deprecated}
    assert page.state is None


async def test_search_skips_into_a_longer_provider_page(source: CommCareSource, emulator: Emulator) -> None:
    # A provider page longer than ours (a cursor keeps its own limit): the rest is served from it.
    full = await source.client.list_cases_v2({"case_type": "household"}, limit=10)
    body = full.model_dump(mode="json", exclude={"next", "cursor"})
    emulator.inject(kind="status", status=200, body=body, path=f"/a/{SANDBOX_DOMAIN}/api/case/v2/")
    filters = CommCareFilters(case_type="household")
    page = await source.search(filters, None, 4)
    assert ids(page) == [c.case_id for c in full.cases[:4]]
    assert page.state == {"c": None, "k": 4}
    page2 = await source.search(filters, page.state, 4)
    assert ids(page2) == [c.case_id for c in full.cases[4:8]]
    assert emulator.requests[-1].params("limit") == ["8"]


async def test_search_state_from_provider_cursor(source: CommCareSource, emulator: Emulator) -> None:
    filters = CommCareFilters(case_type="referral")
    page = await source.search(filters, None, 25)
    # CommCare's cursor is base64 of JSON; the state keeps the JSON text, which compresses.
    assert page.state is not None and page.state["k"] == 0 and json.loads(page.state["j"])
    emulator.requests.clear()
    await source.search(filters, page.state, 25)
    (request,) = emulator.requests
    assert request.params("case_type") == []  # the provider cursor carries the query
    (sent,) = request.params("cursor")
    assert base64.urlsafe_b64decode(sent + "=" * (-len(sent) % 4)).decode() == page.state["j"]


@pytest.mark.parametrize(
    "cursor",
    ["eyJhIjoxfQ", "eyJhIjoxfQ==", "bm90IGpzb24-", "not_base64.", "eyJhIjoxfQ%3D%3D"],
)
def test_provider_cursor_survives_the_state_exactly(cursor: str) -> None:
    """Whatever form CommCare's cursor takes, the next request sends it back unchanged."""
    state = commcare_source._pack(cursor, 3)
    assert commcare_source._read_state(json.loads(json.dumps(state))) == (cursor, 3)


@pytest.mark.parametrize(
    "state",
    [
        {},
        {"c": None},
        {"c": None, "k": 0, "x": 1},
        {"c": 5, "k": 0},
        {"c": "bad cursor!", "k": 0},
        {"c": "x" * 5000, "k": 0},
        {"c": None, "k": -1},
        {"c": None, "k": 5000},
        {"c": None, "k": True},
        {"c": None, "k": "3"},
        {"j": 5, "k": 0},
        {"j": "x", "b": "y"},
        ["c", "k"],
    ],
)
async def test_search_refuses_odd_state(source: CommCareSource, state: Any, emulator: Emulator) -> None:
    with pytest.raises(ValueError):
        await source.search(CommCareFilters(), state, 5)
    assert emulator.requests == []


async def test_search_refuses_odd_limit(source: CommCareSource) -> None:
    for limit in (0, -1, 1001):
        with pytest.raises(ValueError):
            await source.search(CommCareFilters(), None, limit)


# -- get -----------------------------------------------------------------------------------------


async def test_get_detail_with_parent_and_children(source: CommCareSource) -> None:
    patient = next(c for c in DATA.cases if c.case_type == "patient" and c.external_id and c.closed)
    detail = await source.get(patient.case_id, frozenset({"parent"}))
    assert detail.ref == f"commcare:{patient.case_id}"
    assert detail.provider == "commcare" and detail.sandbox and detail.url is None
    assert detail.title == patient.case_name and detail.status == "closed"
    facts = detail.facts
    assert facts["case_type"] == "patient" and facts["owner_id"] == patient.owner_id
    assert facts["external_id"] == patient.external_id
    assert str(facts["opened"]).startswith(patient.date_opened.date().isoformat())
    assert "closed" in facts and facts["properties.dob"] == patient.properties["dob"]
    household_id = patient.indices["parent"]["case_id"]
    assert detail.parent is not None and detail.parent.ref == f"commcare:{household_id}"
    assert detail.related == []

    household = DATA.by_id[household_id]
    detail = await source.get(household_id, frozenset({"children"}))
    kids = {c.case_id for c in DATA.children[household_id] if not c.deprecated}
    assert {c.ref.removeprefix("commcare:") for c in detail.related} == kids
    assert detail.parent is None and not detail.truncated
    assert detail.title == household.case_name


async def test_get_cuts_properties_and_children(source: CommCareSource, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commcare_source, "MAX_PROPERTIES_SHOWN", 2)
    monkeypatch.setattr(commcare_source, "MAX_CHILDREN", 1)
    household = next(c for c in DATA.cases if c.case_type == "household" and len(DATA.children[c.case_id]) >= 3)
    detail = await source.get(household.case_id, frozenset({"children", "parent"}))
    assert detail.truncated
    assert sum(k.startswith("properties.") for k in detail.facts) == 2
    assert len(detail.related) == 1
    assert any("of 4 case properties" in n for n in detail.notes)
    assert any("child cases" in n and household.case_id in n for n in detail.notes)
    assert any("no parent" in n for n in detail.notes)


async def test_get_missing_case_and_bad_input(source: CommCareSource) -> None:
    with pytest.raises(NotFound):
        await source.get("ffffffff-0000-0000-0000-000000000000", frozenset())
    with pytest.raises(ValueError):
        await source.get("no/slash", frozenset())
    with pytest.raises(ValueError):
        await source.get(DATA.cases[0].case_id, frozenset({"documents"}))


async def test_real_service_detail_has_a_case_page_url(server: LoopbackServer) -> None:
    client = CommCareClient.connect(server.url, SANDBOX_USERNAME, SANDBOX_API_KEY, SANDBOX_DOMAIN, policy=POLICY)
    src = CommCareSource(client)
    try:
        case = DATA.cases[3]
        detail = await src.get(case.case_id, frozenset())
    finally:
        await src.aclose()
    assert detail.sandbox is False
    assert detail.url == f"{server.url}/a/{SANDBOX_DOMAIN}/reports/case_data/{case.case_id}/"
