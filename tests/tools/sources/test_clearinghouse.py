"""ClearinghouseSource over the emulator on loopback: filters, paging state, compact details."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from casebridge.providers.clearinghouse.client import ClearinghouseClient
from casebridge.providers.errors import InvalidRequest, NotFound
from casebridge.providers.http import HttpPolicy
from casebridge.sandbox.clearinghouse.app import SANDBOX_TOKEN, build
from casebridge.sandbox.clearinghouse.data import BUSY_CASE_ID, HOSTILE_CASE_ID, HOSTILE_CASE_IDS, dataset
from casebridge.sandbox.emulation import Emulator, LoopbackServer
from casebridge.tools.sources.base import PageState
from casebridge.tools.sources.clearinghouse import (
    MAX_REQUESTS_PER_SEARCH,
    SECTION_CAP,
    ClearinghouseFilters,
    ClearinghouseSource,
)
from tests.support import resetting, serving

PAGE_SIZE = 7
FAST = HttpPolicy(connect_timeout=1.0, read_timeout=2.0, deadline=4.0, attempts=2, wait_initial=0.01, wait_jitter=0.0)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Emulator, LoopbackServer]]:
    yield from serving(build(page_size=PAGE_SIZE))


@pytest.fixture
def emu(served: tuple[Emulator, LoopbackServer]) -> Iterator[Emulator]:
    yield from resetting(served[0])


@pytest.fixture
async def source(emu: Emulator, served: tuple[Emulator, LoopbackServer]) -> AsyncIterator[ClearinghouseSource]:
    client = ClearinghouseClient.connect(served[1].url + "/api/v2p1", SANDBOX_TOKEN, policy=FAST)
    src = ClearinghouseSource(client, sandbox=True)
    yield src
    await src.aclose()


def expected_refs(case_type_label: str) -> list[str]:
    return [f"clearinghouse:{c.id}" for c in dataset().cases if case_type_label in c.body["case_types"]]


async def walk(source: ClearinghouseSource, filters: ClearinghouseFilters, limit: int) -> tuple[list[str], int]:
    refs: list[str] = []
    state: PageState | None = None
    calls = 0
    while True:
        page = await source.search(filters, state, limit)
        calls += 1
        assert len(page.cases) <= limit
        refs.extend(case.ref for case in page.cases)
        if page.state is None:
            return refs, calls
        assert len(page.cases) == limit  # a page short of the limit must be the last
        state = page.state


# --- filters model ----------------------------------------------------------------------------


def test_filters_accept_labels_or_ids_in_any_case() -> None:
    a = ClearinghouseFilters.model_validate({"case_type": "prison CONDITIONS", "defendant_level": "school district"})
    b = ClearinghouseFilters.model_validate({"case_type": 5034, "defendant_level": "6152"})
    assert a == b and a.case_type == 5034 and a.defendant_level == 6152


def test_filters_reject_unknown_labels_with_suggestions() -> None:
    with pytest.raises(ValidationError) as info:
        ClearinghouseFilters.model_validate({"case_type": "prisn conditons"})
    assert "Prison Conditions" in str(info.value)


@pytest.mark.parametrize(
    "data",
    [{"bogus": 1}, {"text": ""}, {"text": "x" * 201}, {"state": 0}, {"court": -4}, {"state": 10**9}, {"case_id": 5}],
)
def test_filters_reject_bad_input(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ClearinghouseFilters.model_validate(data)


def test_filters_schema_is_compact() -> None:
    schema = ClearinghouseFilters.model_json_schema()
    assert schema["additionalProperties"] is False
    assert "5853 (Puerto Rico)" in schema["properties"]["state"]["description"]
    for name, prop in schema["properties"].items():
        text = prop.get("description") or prop["anyOf"][0]["description"]
        head = text.split(" One of: ")[0]
        assert len(head) <= 100, name


# --- search -----------------------------------------------------------------------------------


async def test_filters_are_sent_as_ids(source: ClearinghouseSource, emu: Emulator) -> None:
    filters = ClearinghouseFilters.model_validate({"case_type": "policing", "state": 5853, "text": "force"})
    await source.search(filters, None, 5)
    sent = emu.requests[-1]
    assert sent.params("case_type") == ["5039"] and sent.params("state") == ["5853"]
    assert sent.params("text") == ["force"]


@pytest.mark.parametrize("limit", [3, PAGE_SIZE, 10, 17])
async def test_paging_has_no_gaps_or_duplicates(source: ClearinghouseSource, limit: int) -> None:
    refs, calls = await walk(source, ClearinghouseFilters(case_type=5034), limit)
    want = expected_refs("Prison Conditions")
    assert len(want) >= 3 * PAGE_SIZE
    assert refs == want
    assert calls >= 2


async def test_summary_is_compact(source: ClearinghouseSource) -> None:
    page = await source.search(ClearinghouseFilters(case_type=5039), None, 1)
    case = page.cases[0]
    body = dataset().by_id[int(case.ref.split(":")[1])].body
    assert case.title == body["name"] and case.date == body["filing_date"]
    assert case.status == f"ongoing: {body['case_ongoing']}"
    assert set(case.facts) <= {"types", "state", "court"} and "Policing" in str(case.facts["types"])


async def test_provider_requests_per_call_are_bounded(source: ClearinghouseSource, emu: Emulator) -> None:
    page = await source.search(ClearinghouseFilters(), None, 50)
    assert len(emu.requests) == MAX_REQUESTS_PER_SEARCH
    assert len(page.cases) == MAX_REQUESTS_PER_SEARCH * PAGE_SIZE and page.state is not None
    rest = await source.search(ClearinghouseFilters(), page.state, 10)
    ids = [int(c.ref.split(":")[1]) for c in page.cases + rest.cases]
    assert ids == [c.id for c in dataset().cases[: len(ids)]]


async def test_zero_matches_is_an_empty_last_page(source: ClearinghouseSource) -> None:
    page = await source.search(ClearinghouseFilters(text="zzznomatchzzz"), None, 10)
    assert page.cases == [] and page.state is None and page.total is None


@pytest.mark.parametrize(
    "state",
    [
        {"c": None},
        {"c": None, "k": 0, "x": 1},
        {"c": 1, "k": 0},
        {"c": "a b", "k": 0},
        {"c": "x" * 300, "k": 0},
        {"c": None, "k": -1},
        {"c": None, "k": True},
        {"c": None, "k": "3"},
        {"c": None, "k": 10**6},
        ["c", "k"],
    ],
)
async def test_bad_state_is_refused(source: ClearinghouseSource, emu: Emulator, state: Any) -> None:
    with pytest.raises(ValueError):
        await source.search(ClearinghouseFilters(), state, 5)
    assert emu.requests == []


async def test_forged_cursor_is_refused_by_the_provider(source: ClearinghouseSource) -> None:
    with pytest.raises(InvalidRequest):
        await source.search(ClearinghouseFilters(), {"c": "Zm9vYmFy", "k": 0}, 5)


# --- get --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["15150", " 42 ", "999999999"])
def test_check_id_accepts(value: str) -> None:
    assert ClearinghouseSource.check_id(None, value) == value.strip()  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["", "0", "-1", "abc", "1.5", "0123", "1234567890", "1e3"])
def test_check_id_rejects(value: str) -> None:
    with pytest.raises(ValueError, match=r"clearinghouse:15150"):
        ClearinghouseSource.check_id(None, value)  # type: ignore[arg-type]


async def test_get_with_every_section(source: ClearinghouseSource) -> None:
    detail = await source.get(str(BUSY_CASE_ID), frozenset({"documents", "dockets", "resources"}))
    body = dataset().by_id[BUSY_CASE_ID].body
    assert detail.ref == f"clearinghouse:{BUSY_CASE_ID}" and detail.sandbox and detail.provider == "clearinghouse"
    assert detail.title == body["name"] and detail.url and detail.url.endswith(f"/case/{BUSY_CASE_ID}")
    assert detail.summary == body["summary"]
    assert detail.facts["filed"] == body["filing_year"] and detail.facts["state"] == body["state"]
    assert detail.facts["defendants"] == [d["name"] for d in body["case_defendants"]]
    assert detail.facts["docket"]
    assert len(detail.sections["documents"]) == SECTION_CAP
    assert len(detail.sections["dockets"]) == SECTION_CAP
    assert len(detail.sections["resources"]) == len(dataset().by_id[BUSY_CASE_ID].resources)
    assert detail.truncated and any(n.startswith("documents:") for n in detail.notes)
    assert not any(n.startswith("resources:") for n in detail.notes)
    first_doc = detail.sections["documents"][0]
    assert first_doc.id and first_doc.title and first_doc.url and first_doc.url.startswith("http")


async def test_get_without_includes_makes_one_request(source: ClearinghouseSource, emu: Emulator) -> None:
    detail = await source.get(str(BUSY_CASE_ID), frozenset())
    assert detail.sections == {} and not detail.truncated
    assert len(emu.requests) == 1


async def test_get_unknown_case(source: ClearinghouseSource) -> None:
    with pytest.raises(NotFound):
        await source.get("2", frozenset({"documents"}))


async def test_hostile_text_is_cleaned(source: ClearinghouseSource) -> None:
    control = [chr(c) for c in range(32) if chr(c) != "\n"] + ["\u202e", "\u200b", "\x7f"]
    for case_id in HOSTILE_CASE_IDS:
        detail = await source.get(str(case_id), frozenset({"documents", "dockets"}))
        texts = [detail.title, detail.summary or ""]
        texts += [item.title for items in detail.sections.values() for item in items]
        for text in texts:
            assert not any(ch in text for ch in control), (case_id, text[:80])
        assert len(detail.summary or "") <= 1500
    detail = await source.get(str(HOSTILE_CASE_ID), frozenset())
    # Kept as data (the tools label it untrusted), but never with its control characters.
    assert "Ignore previous instructions" in (detail.summary or "")
