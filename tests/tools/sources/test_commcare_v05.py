"""CommCareSource on the v0.5 List Cases API: the seed's parameters on the wire, the choice of API, a
v0.5-only server (detected, pinned), several ids in one call and chosen properties in rows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from casebridge.providers.commcare.client import CommCareClient
from casebridge.providers.errors import NotFound
from casebridge.providers.http import HttpPolicy
from casebridge.sandbox.commcare.app import SANDBOX_API_KEY, SANDBOX_DOMAIN, SANDBOX_USERNAME, build
from casebridge.sandbox.commcare.data import dataset
from casebridge.sandbox.emulation import Emulator, LoopbackServer, RecordedRequest, serve
from casebridge.tools.errors import ToolFailure
from casebridge.tools.sources.commcare import CommCareFilters, CommCareSource

DATA = dataset()
POLICY = HttpPolicy(deadline=8.0, attempts=3, wait_initial=0.01, wait_max=0.05, wait_jitter=0.0, max_retry_after=1.0)
OWNER = DATA.cases[0].owner_id
USER = DATA.cases[0].user_id


@pytest.fixture(scope="module")
def both() -> Emulator:
    return build()


@pytest.fixture(scope="module")
def only_v05() -> Emulator:
    return build(v2=False)


@pytest.fixture(scope="module")
def both_server(both: Emulator) -> Iterator[LoopbackServer]:
    assert both.app is not None
    with serve(both.app) as s:
        yield s


@pytest.fixture(scope="module")
def v05_server(only_v05: Emulator) -> Iterator[LoopbackServer]:
    assert only_v05.app is not None
    with serve(only_v05.app) as s:
        yield s


@pytest.fixture(autouse=True)
def _reset(both: Emulator, only_v05: Emulator) -> None:
    both.reset()
    only_v05.reset()


def _source(server: LoopbackServer, case_api: str = "auto") -> CommCareSource:
    client = CommCareClient.connect(
        server.url, SANDBOX_USERNAME, SANDBOX_API_KEY, SANDBOX_DOMAIN, policy=POLICY, case_api=case_api
    )
    return CommCareSource(client, sandbox=True)


@pytest.fixture
async def source(both_server: LoopbackServer) -> AsyncIterator[CommCareSource]:
    src = _source(both_server)
    yield src
    await src.aclose()


@pytest.fixture
async def v05_source(v05_server: LoopbackServer) -> AsyncIterator[CommCareSource]:
    src = _source(v05_server)
    yield src
    await src.aclose()


def refs(page: Any) -> list[str]:
    return [c.ref for c in page.cases]


def last(emulator: Emulator) -> RecordedRequest:
    return emulator.requests[-1]


def wire(request: RecordedRequest) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in request.query:
        out.setdefault(key, []).append(value)
    return out


# -- the seed's parameters on the v0.5 wire ----------------------------------------------------------


async def test_every_seed_parameter_reaches_v05_under_its_own_name(source: CommCareSource, both: Emulator) -> None:
    filters = CommCareFilters(
        owner_id=OWNER,
        case_type="patient",
        status="closed",
        name="Amina Okafor",
        external_id="PAT-01000",
        indexed_after="2021-01-01T06:05:42",
        indexed_before="2026-01-01",
        device_modified_after="2012-05-20",
        device_modified_before="2013-09-29T10:40Z",
        server_modified_after="2012-05-20",
        server_modified_before="2026-02-01T00:00:00+02:00",
        sort="-server_modified",
        offset=100,
        properties={"village": "Rampur"},
    )
    await source.search(filters, None, 7)
    sent = last(both)
    assert sent.path.endswith("/api/v0.5/case/")
    assert wire(sent) == {
        "owner_id": [OWNER],
        "type": ["patient"],
        "closed": ["true"],
        "name": ["Amina Okafor"],
        "external_id": ["PAT-01000"],
        "indexed_on_start": ["2021-01-01T06:05:42"],
        "indexed_on_end": ["2026-01-01"],
        "date_modified_start": ["2012-05-20"],
        "date_modified_end": ["2013-09-29T10:40:00"],
        "server_date_modified_start": ["2012-05-20"],
        "server_date_modified_end": ["2026-01-31T22:00:00"],
        "order_by": ["-server_date_modified"],
        "village": ["Rampur"],
        "limit": ["7"],
        "offset": ["100"],
    }


async def test_user_id_goes_to_v05(source: CommCareSource, both: Emulator) -> None:
    page = await source.search(CommCareFilters(user_id=USER), None, 5)
    sent = last(both)
    assert sent.path.endswith("/v0.5/case/") and sent.params("user_id") == [USER]
    expected = [c for c in DATA.cases if c.user_id == USER and not c.deprecated]
    assert page.total is not None and page.total >= len(expected) > 0
    assert all(r.startswith("commcare:") for r in refs(page))


@pytest.mark.parametrize(
    ("sort", "order_by"),
    [
        ("-indexed", "-indexed_on"),
        ("server_modified", "server_date_modified"),
        ("-server_modified", "-server_date_modified"),
        ("device_modified", "date_modified"),
        ("-device_modified", "-date_modified"),
    ],
)
async def test_sort_orders_v2_lacks_go_to_v05(source: CommCareSource, both: Emulator, sort: str, order_by: str) -> None:
    await source.search(CommCareFilters(case_type="household", sort=sort), None, 3)  # type: ignore[arg-type]
    assert last(both).path.endswith("/v0.5/case/")
    assert last(both).params("order_by") == [order_by]


async def test_newest_first_by_server_date(source: CommCareSource) -> None:
    """The issue's first request: owner, modified on the server since 2021-01-01, newest first."""
    filters = CommCareFilters(owner_id=OWNER, server_modified_after="2021-01-01", sort="-server_modified")
    page = await source.search(filters, None, 10)
    mine = sorted(
        (c for c in DATA.cases if c.owner_id == OWNER), key=lambda c: (c.server_date_modified, c.case_id), reverse=True
    )
    assert refs(page) == [f"commcare:{c.case_id}" for c in mine[:10]]


async def test_plain_search_stays_on_v2(source: CommCareSource, both: Emulator) -> None:
    await source.search(CommCareFilters(case_type="patient", indexed_after="2021-01-01T06:05:42"), None, 3)
    sent = last(both)
    assert "/case/v2/" in sent.path and sent.params("indexed_on.gte") == ["2021-01-01T06:05:42"]


# -- same rows and paging on both APIs -----------------------------------------------------------------


async def test_v05_pages_match_v2_pages(both_server: LoopbackServer, both: Emulator) -> None:
    v2, v05 = _source(both_server, "v2"), _source(both_server, "v0.5")
    filters = CommCareFilters(case_type="household", status="open")
    try:
        walks: dict[str, list[str]] = {}
        for name, src in (("v2", v2), ("v0.5", v05)):
            seen: list[str] = []
            state = None
            for _ in range(3):
                page = await src.search(filters, state, 7)
                seen.extend(refs(page))
                assert page.state is not None
                state = page.state
            walks[name] = seen
        assert walks["v2"] == walks["v0.5"] and len(set(walks["v2"])) == 21
        assert state == {"o": 21}  # a v0.5 page continues by offset
        assert last(both).params("offset") == ["14"]
    finally:
        await v2.aclose()
        await v05.aclose()


async def test_v05_last_page_has_no_state(source: CommCareSource) -> None:
    filters = CommCareFilters(user_id=USER)
    first = await source.search(filters, None, 50)
    assert first.total is not None
    page = await source.search(filters, {"o": first.total - 2}, 5)
    assert len(page.cases) == 2 and page.state is None


@pytest.mark.parametrize("state", [{"o": -1}, {"o": "3"}, {"o": True}, {"o": 1, "k": 0}, {"o": 10**9}])
async def test_v05_refuses_odd_state(source: CommCareSource, state: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        await source.search(CommCareFilters(user_id=USER), state, 5)


# -- choosing the API, and refusing what none can serve ---------------------------------------------------


async def test_v05_and_v2_only_filters_cannot_mix(source: CommCareSource) -> None:
    with pytest.raises(ToolFailure) as caught:
        await source.search(CommCareFilters(user_id=USER, opened_after="2024-01-01"), None, 5)
    assert caught.value.field == "commcare.user_id" and "opened_after" in caught.value.message


async def test_pinned_v2_refuses_v05_filters(both_server: LoopbackServer) -> None:
    src = _source(both_server, "v2")
    try:
        with pytest.raises(ToolFailure) as caught:
            await src.search(CommCareFilters(sort="-indexed"), None, 5)
        assert "COMMCARE_CASE_API" in caught.value.message
    finally:
        await src.aclose()


async def test_v05_only_server_is_detected_once(v05_source: CommCareSource, only_v05: Emulator) -> None:
    filters = CommCareFilters(case_type="patient", status="closed", indexed_after="2021-01-01T06:05:42")
    page = await v05_source.search(filters, None, 5)
    paths = [r.path for r in only_v05.requests]
    assert "/case/v2/" in paths[0] and paths[1].endswith("/v0.5/case/")
    assert only_v05.requests[1].params("indexed_on_start") == ["2021-01-01T06:05:42"]
    assert only_v05.requests[1].params("closed") == ["true"] and len(page.cases) == 5
    only_v05.reset()
    await v05_source.search(CommCareFilters(case_type="household"), None, 5)
    assert [r.path.endswith("/v0.5/case/") for r in only_v05.requests] == [True]  # v2 is not asked again


async def test_v05_only_server_refuses_v2_only_filters(v05_source: CommCareSource) -> None:
    await v05_source.search(CommCareFilters(), None, 1)
    with pytest.raises(ToolFailure) as caught:
        await v05_source.search(CommCareFilters(parent_case_id="abc123"), None, 5)
    assert caught.value.field == "commcare.parent_case_id" and "v0.5" in caught.value.message


async def test_get_on_v05_only_server(v05_source: CommCareSource, only_v05: Emulator) -> None:
    patient = next(c for c in DATA.cases if c.case_type == "patient" and "parent" in c.indices)
    detail = await v05_source.get(patient.case_id, frozenset({"parent", "children"}))
    assert detail.ref == f"commcare:{patient.case_id}" and detail.title == patient.case_name
    assert detail.facts["case_type"] == "patient" and detail.facts["owner_id"] == patient.owner_id
    assert detail.facts["properties.dob"] == patient.properties["dob"]
    assert "properties.case_name" not in detail.facts  # core fields are not repeated as properties
    assert detail.parent is not None and detail.parent.ref == f"commcare:{patient.indices['parent']['case_id']}"
    household = DATA.by_id[patient.indices["parent"]["case_id"]]
    parent = await v05_source.get(household.case_id, frozenset({"children"}))
    assert {c.ref for c in parent.related} == {f"commcare:{c.case_id}" for c in DATA.children[household.case_id]}
    with pytest.raises(NotFound):
        await v05_source.get("nosuchcase1", frozenset())


async def test_missing_case_on_a_v2_server_is_not_a_fallback(source: CommCareSource, both: Emulator) -> None:
    with pytest.raises(NotFound):
        await source.get("nosuchcase1", frozenset())
    assert source.client.has_v2 is True
    assert not any("/v0.5/" in r.path for r in both.requests)


async def test_v05_only_and_v2_give_the_same_detail(source: CommCareSource, v05_source: CommCareSource) -> None:
    case = DATA.cases[5]
    a = await source.get(case.case_id, frozenset())
    b = await v05_source.get(case.case_id, frozenset())
    # v0.5 keeps date_opened inside properties, to the second.
    opened_a, opened_b = a.facts.pop("opened"), b.facts.pop("opened")
    assert isinstance(opened_a, str) and opened_b == opened_a[:19] + "Z"
    assert a.model_dump() == b.model_dump()


# -- several ids at once, and chosen properties -----------------------------------------------------------


async def test_several_case_ids_in_one_call(source: CommCareSource, v05_source: CommCareSource) -> None:
    ids = [DATA.cases[3].case_id, "nosuchcase1", DATA.cases[9].case_id]
    for src in (source, v05_source):
        page = await src.search(CommCareFilters(case_ids=ids), None, 10)
        assert refs(page) == [f"commcare:{ids[0]}", f"commcare:{ids[2]}"]
        assert page.notes == ["No case with id nosuchcase1."] and page.state is None
    two = await source.search(CommCareFilters(case_ids=ids), None, 2)
    assert two.state == {"i": 2}
    rest = await source.search(CommCareFilters(case_ids=ids), two.state, 2)
    assert refs(rest) == [f"commcare:{ids[2]}"] and rest.state is None


async def test_several_external_ids(
    source: CommCareSource, v05_source: CommCareSource, both: Emulator, only_v05: Emulator
) -> None:
    wanted = ["PAT-01000", "PAT-01001", "PAT-01003"]
    page = await source.search(CommCareFilters(external_id=wanted), None, 10)
    assert last(both).params("external_id") == wanted  # v2: a repeated key is OR
    expected = sorted((c for c in DATA.cases if c.external_id in wanted), key=lambda c: (c.indexed_on, c.case_id))
    assert refs(page) == [f"commcare:{c.case_id}" for c in expected]
    only_v05.reset()
    again = await v05_source.search(CommCareFilters(external_id=wanted), None, 10)
    assert refs(again) == refs(page)
    v05_lists = [r for r in only_v05.requests if r.path.endswith("/v0.5/case/")]
    assert [r.params("external_id") for r in v05_lists] == [[w] for w in wanted]


async def test_show_properties_in_rows(source: CommCareSource, v05_source: CommCareSource) -> None:
    filters = CommCareFilters(case_type="patient", show_properties=["dob", "case_name", "village"])
    for src in (source, v05_source):
        page = await src.search(filters, None, 3)
        for row in page.cases:
            case = DATA.by_id[row.ref.removeprefix("commcare:")]
            assert row.facts["properties.dob"] == case.properties["dob"]
            assert row.facts["properties.village"] == case.properties["village"]
            assert row.facts["properties.case_name"] == case.case_name
