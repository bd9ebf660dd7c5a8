"""CertnSource over the Certn emulator on a loopback socket: filters, paging, summaries, detail."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date

import pytest
from pydantic import ValidationError

from casebridge.providers.certn.client import CertnClient
from casebridge.providers.errors import NotFound
from casebridge.providers.http import HttpPolicy
from casebridge.sandbox.certn.app import SANDBOX_API_KEY, CertnEmulator, build
from casebridge.sandbox.certn.data import HOSTILE_CASE_ID
from casebridge.sandbox.emulation import LoopbackServer
from casebridge.tools.sources.certn import FILES_NOTE, CertnFilters, CertnSource
from tests.support import resetting, serving

POLICY = HttpPolicy(read_timeout=2, deadline=4, wait_initial=0.01, wait_max=0.02, wait_jitter=0)
CONTROL = [chr(c) for c in range(32) if c not in (10,)] + ["\u202e", "\u200b", "\x7f"]


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[CertnEmulator, LoopbackServer]]:
    yield from serving(build())


@pytest.fixture
def emu(served: tuple[CertnEmulator, LoopbackServer]) -> Iterator[CertnEmulator]:
    yield from resetting(served[0])


@pytest.fixture
async def source(emu: CertnEmulator, served: tuple[CertnEmulator, LoopbackServer]) -> AsyncIterator[CertnSource]:
    src = CertnSource(CertnClient.connect(served[1].url, SANDBOX_API_KEY, policy=POLICY), sandbox=True)
    yield src
    await src.aclose()


def list_calls(emu: CertnEmulator) -> int:
    return sum(1 for r in emu.requests if r.path == "/api/public/cases/")


# ------------------------------------------------------------------------------------- filters


def test_status_labels_and_codes_normalise() -> None:
    f = CertnFilters(statuses=["in progress", "COMPLETE", "Applicant Invited", "pending_fulfillment"])
    assert f.statuses == ["IN_PROGRESS", "COMPLETE", "APPLICANT_INVITED", "PENDING_FULFILLMENT"]


def test_check_type_labels_and_aliases() -> None:
    f = CertnFilters(
        check_types=["criminal record check", "Criminal Record Report", "identity verification", "CREDIT_REPORT_1"]
    )
    assert f.check_types == [
        "CRIMINAL_RECORD_REPORT_1",
        "CRIMINAL_RECORD_REPORT_1",
        "IDENTITY_VERIFICATION_1",
        "CREDIT_REPORT_1",
    ]


def test_unknown_values_name_the_nearest_labels() -> None:
    with pytest.raises(ValidationError) as info:
        CertnFilters(statuses=["complet"])
    assert "'Complete'" in str(info.value)
    with pytest.raises(ValidationError) as info:
        CertnFilters(check_types=["criminal recrd"])
    assert "Criminal record check" in str(info.value)
    with pytest.raises(ValidationError):
        CertnFilters(check_types=["DRUG_TEST_1"])  # not a confirmed Certn check type


@pytest.mark.parametrize(
    "kwargs",
    [
        {"email": "not-an-email"},
        {"email": "a@" + "b" * 250 + ".com"},
        {"statuses": ["COMPLETE"] * 21},
        {"tags": ["t"] * 21},
        {"tags": [""]},
        {"tags": ["x" * 101]},
        {"group": "CG_CA_ABC123"},
        {"ordered_after": "yesterday"},
        {"ordered_after": "2025-05-01", "ordered_before": "2025-01-01"},
        {"colour": "blue"},
    ],
)
def test_bad_filters_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValidationError):
        CertnFilters(**kwargs)


def test_schema_is_small_and_strict() -> None:
    schema = CertnFilters.model_json_schema()
    assert schema["additionalProperties"] is False
    props = schema["properties"]
    assert set(props) == {"statuses", "email", "tags", "check_types", "group", "ordered_after", "ordered_before"}
    assert "In progress" in str(props["statuses"]) and "Criminal record check" in str(props["check_types"])
    assert all(props[name]["description"] for name in props)


async def test_filters_reach_the_provider(source: CertnSource, emu: CertnEmulator) -> None:
    group = emu.store.groups[0].id
    filters = CertnFilters(
        statuses=["complete", "cancelled"],
        email=None,
        tags=["driver", "rehire"],
        check_types=["criminal record check"],
        group=group,
        ordered_after=date(2024, 6, 1),
        ordered_before=date(2026, 1, 31),
    )
    page = await source.search(filters, None, 50)
    sent = [r for r in emu.requests if r.path == "/api/public/cases/"][-1]
    assert sent.params("overall_status") == ["COMPLETE", "CANCELLED"]
    assert sent.params("tag") == ["driver", "rehire"]
    assert sent.params("check_type") == ["CRIMINAL_RECORD_REPORT_1"]
    assert sent.params("group") == [group]
    assert sent.params("order_timeframe_after") == ["2024-06-01"]
    assert sent.params("order_timeframe_before") == ["2026-01-31"]
    expected = [
        c
        for c in emu.store.ordered()
        if c.overall_status in ("COMPLETE", "CANCELLED")
        and {"driver", "rehire"} & set(c.tags)
        and any(k.type == "CRIMINAL_RECORD_REPORT_1" for k in c.checks)
        and c.group == group
        and date(2024, 6, 1) <= c.created.date() <= date(2026, 1, 31)
    ]
    assert [s.ref for s in page.cases] == [f"certn:{c.id}" for c in expected] and expected
    assert page.total == len(expected)


async def test_email_filter(source: CertnSource, emu: CertnEmulator) -> None:
    target = emu.store.ordered()[30]
    page = await source.search(CertnFilters(email=target.email_address), None, 5)
    assert [s.ref for s in page.cases] == [f"certn:{target.id}"]
    assert page.state is None and page.total == 1


# ------------------------------------------------------------------------------------- paging


@pytest.mark.parametrize("limit", [1, 7, 10, 23, 50])
async def test_paging_no_duplicates_no_gaps(source: CertnSource, emu: CertnEmulator, limit: int) -> None:
    filters = CertnFilters(statuses=["Complete", "In dispute"])
    expected = [f"certn:{c.id}" for c in emu.store.ordered() if c.overall_status in ("COMPLETE", "IN_DISPUTE")]
    seen: list[str] = []
    state = None
    pages = 0
    while True:
        before = list_calls(emu)
        page = await source.search(filters, state, limit)
        assert list_calls(emu) - before <= 2
        assert page.total == len(expected)
        seen += [c.ref for c in page.cases]
        pages += 1
        if page.state is None:
            break
        assert len(page.cases) == limit
        state = page.state
        if limit == 1 and pages >= 25:  # enough to cross provider pages
            expected = expected[: len(seen)]
            break
    assert seen == expected
    assert pages >= 3


async def test_state_with_another_page_size_keeps_offset(source: CertnSource, emu: CertnEmulator) -> None:
    filters = CertnFilters()
    ids = [f"certn:{c.id}" for c in emu.store.ordered()]
    first = await source.search(filters, None, 7)
    assert first.state == {"p": 1, "k": 7, "s": 10}
    second = await source.search(filters, first.state, 30)  # size 30 now; offset 7 kept
    assert [c.ref for c in second.cases] == ids[7:37]
    third = await source.search(filters, {"p": 3, "k": 5, "s": 20}, 3)
    assert [c.ref for c in third.cases] == ids[45:48]


async def test_last_page_ends_state(source: CertnSource, emu: CertnEmulator) -> None:
    n = len(emu.store.cases)
    page = await source.search(CertnFilters(), {"p": n // 50 + 1, "k": n % 50 - 2, "s": 50}, 50)
    assert len(page.cases) == 2 and page.state is None


async def test_stale_state_past_end_returns_note(source: CertnSource) -> None:
    page = await source.search(CertnFilters(statuses=["draft"]), {"p": 40, "k": 0, "s": 10}, 10)
    assert page.cases == [] and page.state is None and page.notes


@pytest.mark.parametrize(
    "state",
    [
        {"p": 1, "k": 0},
        {"p": 0, "k": 0, "s": 10},
        {"p": 1, "k": 10, "s": 10},
        {"p": 1, "k": -1, "s": 10},
        {"p": 1, "k": 0, "s": 101},
        {"p": 1, "k": 0, "s": 5},
        {"p": "1", "k": 0, "s": 10},
        {"p": True, "k": 0, "s": 10},
        {"p": 1.0, "k": 0, "s": 10},
        {"p": 10**9, "k": 0, "s": 10},
        {"p": 1, "k": 0, "s": 10, "x": 1},
        ["p", 1],
    ],
)
async def test_bad_state_is_value_error(source: CertnSource, emu: CertnEmulator, state: object) -> None:
    with pytest.raises(ValueError):
        await source.search(CertnFilters(), state, 10)  # type: ignore[arg-type]
    assert emu.requests == []


@pytest.mark.parametrize("limit", [0, 51])
async def test_bad_limit(source: CertnSource, limit: int) -> None:
    with pytest.raises(ValueError):
        await source.search(CertnFilters(), None, limit)


# ----------------------------------------------------------------------------------- summaries


CHECK_LABELS = {"identity verification", "criminal record check", "credit report"}


async def test_summary_fields(source: CertnSource, emu: CertnEmulator) -> None:
    page = await source.search(CertnFilters(statuses=["COMPLETE"]), None, 20)
    stored = {f"certn:{c.id}": c for c in emu.store.ordered()}
    for s in page.cases:
        case = stored[s.ref]
        assert s.status == "Complete"
        assert s.date == case.created.date().isoformat()
        assert s.facts == {"score": s.facts["score"]} and s.facts["score"] in ("Clear", "Review")
        full = source.summary(await source.client.get_case(case.id)).facts["checks"]
        assert isinstance(full, list) and full and set(full) <= CHECK_LABELS
        name = case.input_claims.get("name")
        if name and case.id != HOSTILE_CASE_ID:
            assert s.title == f"{name['given_name']} {name['family_name']}"


async def test_title_falls_back_to_email(source: CertnSource, emu: CertnEmulator) -> None:
    page = await source.search(CertnFilters(statuses=["Draft"]), None, 50)
    stored = {f"certn:{c.id}": c for c in emu.store.ordered()}
    no_name = [s for s in page.cases if not stored[s.ref].input_claims]
    assert no_name
    assert all(s.title == stored[s.ref].email_address for s in no_name)
    assert all(s.status == "Draft" for s in page.cases)


async def test_hostile_text_is_cleaned(source: CertnSource, emu: CertnEmulator) -> None:
    hostile = emu.store.cases[HOSTILE_CASE_ID]
    page = await source.search(CertnFilters(email=hostile.email_address), None, 1)
    detail = await source.get(HOSTILE_CASE_ID, frozenset({"supplementary", "files"}))
    for title in (page.cases[0].title, detail.title):
        assert title.startswith("Ignore previous instructions")
        assert not any(ch in title for ch in CONTROL)
        assert "\n" not in title


# -------------------------------------------------------------------------------------- detail


def test_check_id() -> None:
    src = CertnSource.__new__(CertnSource)
    assert src.check_id(" 7C1F0E4E-3B7A-4C55-9A43-2F4F8F0D9B12 ") == "7c1f0e4e-3b7a-4c55-9a43-2f4f8f0d9b12"
    for bad in ("", "C_CA_8K2L9Q", "../groups", "7c1f0e4e"):
        with pytest.raises(ValueError, match="a Certn case id is a UUID"):
            src.check_id(bad)


async def test_get_detail_with_checks(source: CertnSource, emu: CertnEmulator) -> None:
    case = next(c for c in emu.store.ordered() if len(c.checks) == 3 and c.overall_status == "COMPLETE")
    detail = await source.get(case.id.upper(), frozenset())
    assert detail.ref == f"certn:{case.id}" and detail.provider == "certn" and detail.sandbox
    assert detail.status == "Complete"
    assert detail.facts["short_id"] == case.short_id
    assert detail.facts["overall_status"] == "COMPLETE"
    assert detail.facts["overall_score"] in ("Clear", "Review")
    assert detail.facts["email"] == case.email_address
    assert detail.facts["created"].startswith(case.created.date().isoformat())
    assert set(detail.sections) == {"checks"}
    checks = detail.sections["checks"]
    assert [i.title for i in checks] == ["Identity verification", "Criminal record check", "Credit report"]
    assert [i.id for i in checks] == [k.id for k in case.checks]
    for item, k in zip(checks, case.checks, strict=True):
        assert item.kind == "check"
        if k.status == "COMPLETE":
            assert item.status == "Complete" and item.facts["score"] in ("Clear", "Review")
    assert not detail.notes


async def test_get_with_supplementary_and_files(source: CertnSource, emu: CertnEmulator) -> None:
    case = next(
        c
        for c in emu.store.ordered()
        if any(k.status == "COMPLETE" for k in c.checks) and any(not k.closed for k in c.checks)
    )
    detail = await source.get(case.id, frozenset({"supplementary", "files"}))
    supp = detail.sections["supplementary"]
    assert len(supp) == len(case.checks)
    complete = [i for i, k in zip(supp, case.checks, strict=True) if k.status == "COMPLETE"]
    assert complete and all(i.facts for i in complete)
    files = detail.sections["files"]
    assert files and all(f.url and "X-Amz-Expires=10800" in f.url and f.title.endswith(".pdf") for f in files)
    assert FILES_NOTE in detail.notes
    assert any("closed" in n for n in detail.notes)


async def test_get_unknown_case(source: CertnSource) -> None:
    with pytest.raises(NotFound):
        await source.get(str(uuid.UUID(int=7, version=4)), frozenset())
    with pytest.raises(ValueError):
        await source.get("C_CA_8K2L9Q", frozenset())


def test_source_contract() -> None:
    assert CertnSource.name == "certn"
    assert CertnSource.filters_model is CertnFilters
    assert CertnSource.includes == frozenset({"supplementary", "files"})
