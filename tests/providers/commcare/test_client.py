"""CommCareClient against the emulator on a loopback socket: wire models, paging and error mapping."""

from __future__ import annotations

import pytest

from casebridge.providers.commcare.client import BulkMissing, CaseV2, CommCareClient
from casebridge.providers.errors import (
    AuthenticationFailed,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    ProviderError,
    RateLimited,
    Rejected,
    Timeout,
    Unavailable,
)
from casebridge.providers.http import HttpPolicy
from casebridge.sandbox.commcare.app import SANDBOX_API_KEY, SANDBOX_DOMAIN, SANDBOX_USERNAME, build
from casebridge.sandbox.commcare.data import DUPLICATE_EXTERNAL_ID, dataset
from casebridge.sandbox.emulation import Emulator, LoopbackServer, serve

DATA = dataset()


def connect(
    url: str, policy: HttpPolicy, *, key: str = SANDBOX_API_KEY, domain: str = SANDBOX_DOMAIN
) -> CommCareClient:
    return CommCareClient.connect(url, SANDBOX_USERNAME, key, domain, policy=policy)


def assert_clean(err: ProviderError, *secrets: str) -> None:
    for secret in (SANDBOX_API_KEY, *secrets):
        for text in (str(err), err.message, err.hint or ""):
            assert secret not in text


# -- set-up --------------------------------------------------------------------------------------


async def test_connect_sends_api_key_header_and_domain_path(
    client: CommCareClient, commcare_emulator: Emulator
) -> None:
    await client.list_cases_v2({"limit": 1})
    request = commcare_emulator.requests[-1]
    assert request.headers["authorization"] == f"ApiKey {SANDBOX_USERNAME}:{SANDBOX_API_KEY}"
    assert request.path == f"/a/{SANDBOX_DOMAIN}/api/case/v2/"
    assert client.http.redact(f"x {SANDBOX_API_KEY} y") == "x [redacted] y"


@pytest.mark.parametrize("domain", ["", "a/b", "../x", "proj ect", "x?y=1"])
def test_connect_refuses_odd_domains(domain: str) -> None:
    with pytest.raises(ValueError, match="COMMCARE_DOMAIN"):
        CommCareClient.connect("http://127.0.0.1:9", "u@example.org", "k" * 10, domain)


def test_connect_refuses_missing_credentials() -> None:
    with pytest.raises(ValueError, match="COMMCARE_API_KEY"):
        CommCareClient.connect("http://127.0.0.1:9", "u@example.org", "", "proj")


# -- v0.5 ----------------------------------------------------------------------------------------


async def test_v05_list_models_and_offset_paging(client: CommCareClient) -> None:
    page = await client.list_cases_v05(limit=100, type="referral", closed=False)
    expected = [c for c in DATA.cases if c.case_type == "referral" and not c.closed]
    assert page.meta.total_count == len(expected)
    first = page.objects[0]
    assert first.case_type == "referral" and first.case_name and first.owner_id
    assert first.indices["host"].relationship == "extension"

    seen: list[str] = []
    offset, pages = 0, 0
    while True:
        page = await client.list_cases_v05(limit=9, offset=offset, type="referral", closed=False)
        seen += [c.case_id for c in page.objects]
        pages += 1
        if page.meta.next is None:
            break
        offset += page.meta.limit
    assert pages >= 3
    assert len(seen) == len(set(seen)) == len(expected)
    assert set(seen) == {c.case_id for c in expected}


async def test_v05_passthrough_param_filters(client: CommCareClient) -> None:
    page = await client.list_cases_v05(limit=5000, risk_level="high", type="pregnancy")
    assert page.meta.total_count == sum(
        c.case_type == "pregnancy" and c.properties["risk_level"] == "high" for c in DATA.cases
    )
    assert all(c.properties["risk_level"] == "high" for c in page.objects)


async def test_v05_limit_checked_before_sending(client: CommCareClient, commcare_emulator: Emulator) -> None:
    with pytest.raises(InvalidRequest) as info:
        await client.list_cases_v05(limit=5001)
    assert info.value.field == "limit"
    assert commcare_emulator.requests == []


async def test_v05_400_is_invalid_request(client: CommCareClient) -> None:
    with pytest.raises(InvalidRequest) as info:
        await client.list_cases_v05(indexed_on_start="2021-01-01T00:00:00+02:00")
    assert "2021-01-01T00:00:00+02:00" in info.value.message
    assert info.value.field == "indexed_on_start"


async def test_v05_detail_and_empty_404(client: CommCareClient) -> None:
    case = DATA.cases[5]
    got = await client.get_case_v05(case.case_id)
    assert got.case_id == case.case_id and got.case_name == case.case_name
    with pytest.raises(NotFound) as info:
        await client.get_case_v05("ABCDEF-missing")
    assert "ABCDEF-missing" in info.value.message
    assert info.value.status == 404


# -- v2 ------------------------------------------------------------------------------------------


async def test_v2_list_filters(client: CommCareClient) -> None:
    page = await client.list_cases_v2(
        {"case_type": ["pregnancy", "referral"], "closed": False, "properties.village": "Rampur"}, limit=5000
    )
    expected = {
        c.case_id
        for c in DATA.cases
        if c.case_type in ("pregnancy", "referral") and not c.closed and c.properties.get("village") == "Rampur"
    }
    assert page.matching_records == len(expected) == len(page.cases)
    assert {c.case_id for c in page.cases} == expected
    assert page.next is None and page.cursor is None
    assert all(isinstance(v, str) for c in page.cases for v in c.properties.values())


async def test_v2_cursor_paging_has_no_gaps_or_duplicates(client: CommCareClient, commcare_emulator: Emulator) -> None:
    params = {"case_type": "household", "date_opened.gte": "2022-01-01", "date_opened.lt": "2023-01-01"}
    page = await client.list_cases_v2(params, limit=30)
    total = page.matching_records
    seen = [c.case_id for c in page.cases]
    pages = 1
    while page.cursor:
        page = await client.list_cases_v2(params, cursor=page.cursor, limit=30)
        seen += [c.case_id for c in page.cases]
        pages += 1
    assert pages >= 3
    assert len(seen) == len(set(seen)) == total
    later = [r for r in commcare_emulator.requests if r.params("cursor")]
    assert later and all(r.params("case_type") == [] and r.params("date_opened.gte") == [] for r in later)


async def test_v2_next_link_host_is_never_followed(
    client: CommCareClient, commcare_emulator: Emulator, commcare_server: LoopbackServer
) -> None:
    body = {"matching_records": 3, "cases": [], "next": "https://evil.example/steal?cursor=abc123"}
    commcare_emulator.inject(kind="status", status=200, body=body)
    page = await client.list_cases_v2({"case_type": "patient"})
    assert page.cursor == "abc123"
    with pytest.raises(InvalidRequest):
        await client.list_cases_v2(cursor=page.cursor)
    last = commcare_emulator.requests[-1]
    assert last.path == f"/a/{SANDBOX_DOMAIN}/api/case/v2/"
    assert last.params("cursor") == ["abc123"]


async def test_v2_next_without_cursor_is_malformed(client: CommCareClient, commcare_emulator: Emulator) -> None:
    commcare_emulator.inject(kind="status", status=200, body={"matching_records": 1, "cases": [], "next": "/x?y=1"})
    with pytest.raises(MalformedResponse):
        await client.list_cases_v2()


async def test_v2_unknown_param_names_the_field(client: CommCareClient) -> None:
    with pytest.raises(InvalidRequest) as info:
        await client.list_cases_v2({"foo": "1"})
    assert info.value.field == "foo"
    assert info.value.message == "'foo' is not a valid parameter."
    with pytest.raises(InvalidRequest, match="Cannot parse datetime 'soon'"):
        await client.list_cases_v2({"last_modified.gt": "soon"})


async def test_v2_single_bulk_and_ext(client: CommCareClient) -> None:
    case = DATA.cases[42]
    got = await client.get_case_v2(case.case_id)
    assert isinstance(got, CaseV2) and got.case_name == case.case_name and got.closed == case.closed
    with pytest.raises(NotFound, match="Case 'missing-xyz' not found"):
        await client.get_case_v2("missing-xyz")

    bulk = await client.get_cases_v2([case.case_id, "missing-xyz", DATA.cases[43].case_id])
    assert bulk.matching_records == 2 and bulk.missing_records == 1
    assert [c.case_id for c in bulk.found] == [case.case_id, DATA.cases[43].case_id]
    assert bulk.missing == [BulkMissing(case_id="missing-xyz", error="not found")]
    single = await client.get_cases_v2(["missing-xyz"])
    assert single.missing_records == 1 and single.found == []
    with pytest.raises(InvalidRequest):
        await client.get_cases_v2([f"id-{i}" for i in range(101)])
    with pytest.raises(InvalidRequest):
        await client.get_cases_v2(["a,b", "c"])

    ext = await client.get_case_by_external_id("PAT-01000")
    assert ext.external_id == "PAT-01000"
    with pytest.raises(Rejected) as info:
        await client.get_case_by_external_id(DUPLICATE_EXTERNAL_ID)
    assert "Multiple cases found" in info.value.message
    with pytest.raises(NotFound):
        await client.get_case_by_external_id("NOPE-1")


# -- failures ------------------------------------------------------------------------------------


async def test_wrong_key_and_wrong_domain_are_authentication_failures(
    commcare_server: LoopbackServer, policy: HttpPolicy
) -> None:
    bad = connect(commcare_server.url, policy, key="wrong-key-123456")
    with pytest.raises(AuthenticationFailed) as info:
        await bad.list_cases_v2()
    await bad.aclose()
    assert info.value.status == 401
    assert "COMMCARE_API_KEY" in (info.value.hint or "") and "COMMCARE_USERNAME" in (info.value.hint or "")
    assert_clean(info.value, "wrong-key-123456")

    other = connect(commcare_server.url, policy, domain="someone-else")
    with pytest.raises(AuthenticationFailed) as info:
        await other.get_case_v05("ABCDEFGH")
    await other.aclose()
    assert info.value.status == 403
    assert "COMMCARE_DOMAIN" in (info.value.hint or "")


async def test_short_retry_after_is_retried(client: CommCareClient, commcare_emulator: Emulator) -> None:
    commcare_emulator.inject(kind="status", status=429, headers={"Retry-After": "0"}, times=2)
    page = await client.list_cases_v2(limit=2)
    assert len(page.cases) == 2
    assert len(commcare_emulator.requests) == 3


async def test_throttle_recovers_after_retry_after(policy: HttpPolicy) -> None:
    emu = build(throttle=True, throttle_requests=2, throttle_window=1.0)
    assert emu.app is not None
    with serve(emu.app) as server:
        c = connect(server.url, policy)
        try:
            for _ in range(3):
                page = await c.list_cases_v2(limit=1)
                assert len(page.cases) == 1
        finally:
            await c.aclose()
    assert len(emu.requests) == 4  # the third call was throttled once, waited and went through


async def test_long_retry_after_is_reported(policy: HttpPolicy) -> None:
    emu = build(throttle=True, throttle_requests=1, throttle_window=60.0)
    assert emu.app is not None
    with serve(emu.app) as server:
        c = connect(server.url, policy)
        try:
            await c.get_case_v2(DATA.cases[0].case_id)
            with pytest.raises(RateLimited) as info:
                await c.get_case_v2(DATA.cases[0].case_id)
        finally:
            await c.aclose()
    assert info.value.retryable
    assert info.value.retry_after is not None and 2.0 < info.value.retry_after <= 60.0
    assert len(emu.requests) == 2  # not slept on


async def test_500_is_retried_then_unavailable(client: CommCareClient, commcare_emulator: Emulator) -> None:
    commcare_emulator.inject(kind="status", status=500, times=99, body=b"Internal Server Error")
    with pytest.raises(Unavailable) as info:
        await client.get_case_v2(DATA.cases[0].case_id)
    assert info.value.status == 500
    assert len(commcare_emulator.requests) == client.http.policy.attempts


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_gateway_errors_retried_then_unavailable(
    client: CommCareClient, commcare_emulator: Emulator, policy: HttpPolicy, status: int
) -> None:
    commcare_emulator.inject(kind="status", status=status, times=10)
    with pytest.raises(Unavailable) as info:
        await client.list_cases_v05(limit=1)
    assert info.value.status == status
    assert len(commcare_emulator.requests) == policy.attempts


async def test_transient_503_then_success(client: CommCareClient, commcare_emulator: Emulator) -> None:
    commcare_emulator.inject(kind="status", status=503)
    assert (await client.get_case_v05(DATA.cases[0].case_id)).case_id == DATA.cases[0].case_id


async def test_html_error_page(client: CommCareClient, commcare_emulator: Emulator) -> None:
    commcare_emulator.inject(kind="html", times=10)
    with pytest.raises(Unavailable):
        await client.list_cases_v2()
    commcare_emulator.reset()
    commcare_emulator.inject(kind="html", status=200)
    with pytest.raises(MalformedResponse, match="text/html"):
        await client.list_cases_v2()


async def test_malformed_json_and_wrong_shape(client: CommCareClient, commcare_emulator: Emulator) -> None:
    commcare_emulator.inject(kind="malformed")
    with pytest.raises(MalformedResponse):
        await client.list_cases_v2()
    commcare_emulator.inject(kind="status", status=200, body={"results": []})
    with pytest.raises(MalformedResponse, match="V2Page"):
        await client.list_cases_v2()
    commcare_emulator.inject(kind="status", status=200, body={"case_id": "x", "properties": {"n": 1}})
    with pytest.raises(MalformedResponse):
        await client.get_case_v2("abcdef")


async def test_dropped_connection(client: CommCareClient, commcare_emulator: Emulator, policy: HttpPolicy) -> None:
    commcare_emulator.inject(kind="drop")
    assert len((await client.list_cases_v2(limit=3)).cases) == 3
    commcare_emulator.inject(kind="drop", times=policy.attempts)
    with pytest.raises(Unavailable):
        await client.list_cases_v2(limit=3)


async def test_slow_answer_past_deadline_is_timeout(
    commcare_server: LoopbackServer, commcare_emulator: Emulator
) -> None:
    tight = HttpPolicy(deadline=0.3, read_timeout=5.0, attempts=2, wait_initial=0.01, wait_max=0.01, wait_jitter=0.0)
    c = connect(commcare_server.url, tight)
    commcare_emulator.inject(kind="latency", seconds=1.5, times=2)
    try:
        with pytest.raises(Timeout) as info:
            await c.get_case_v2(DATA.cases[0].case_id)
    finally:
        await c.aclose()
    assert info.value.retryable


async def test_secrets_never_reach_error_text(client: CommCareClient, commcare_emulator: Emulator) -> None:
    header = f"ApiKey {SANDBOX_USERNAME}:{SANDBOX_API_KEY}"
    leaks = [
        (400, {"error": f"bad header {header}"}),
        (404, {"error": f"Case '{SANDBOX_API_KEY}' not found"}),
        (405, {"error": f"no {SANDBOX_API_KEY}"}),
    ]
    for status, body in leaks:
        commcare_emulator.inject(kind="status", status=status, body=body)
        with pytest.raises(ProviderError) as info:
            await client.get_case_v2("abcdef")
        assert_clean(info.value, header)
        assert "[redacted]" in info.value.message
