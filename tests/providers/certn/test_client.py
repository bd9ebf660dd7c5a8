"""CertnClient against the emulator on a loopback socket: params sent, parsing, every error path."""

from __future__ import annotations

from datetime import date

import pytest

from casebridge.providers.certn.client import CasePage, CertnClient
from casebridge.providers.certn.extra import GroupPage
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
from casebridge.sandbox.certn.app import SANDBOX_API_KEY, CertnEmulator, error_body
from casebridge.sandbox.certn.data import HOSTILE_CASE_ID

CASES = "/api/public/cases/"


def case_requests(emu: CertnEmulator) -> list:
    return [r for r in emu.requests if r.path == CASES]


def assert_clean(err: ProviderError) -> None:
    for text in (str(err), err.message, err.hint or "", repr(err), repr(err.args)):
        assert SANDBOX_API_KEY not in text


# ------------------------------------------------------------------------------------ requests


async def test_auth_header_and_trailing_slash(client: CertnClient, emu: CertnEmulator) -> None:
    await client.list_cases()
    sent = emu.requests[-1]
    assert sent.path == CASES
    assert sent.headers["authorization"] == f"Api-Key {SANDBOX_API_KEY}"
    assert sent.params("page") == ["1"] and sent.params("page_size") == ["10"]


async def test_every_filter_is_sent_with_repeated_keys(client: CertnClient, emu: CertnEmulator) -> None:
    g1, g2 = emu.store.groups[0].id, emu.store.groups[1].id
    user = emu.store.users[0]
    page = await client.list_cases(
        check_type=["IDENTITY_VERIFICATION_1", "CREDIT_REPORT_1"],
        email_address="x@example.com",
        group=[g1, g2],
        order_timeframe_after=date(2025, 1, 1),
        order_timeframe_before=date(2025, 12, 31),
        ordered_by=[user["email"], user["id"]],
        overall_status=["COMPLETE", "IN_PROGRESS"],
        tag=["driver", "rehire"],
        page=1,
        page_size=25,
    )
    assert page.results == []
    sent = case_requests(emu)[-1]
    assert sent.params("check_type") == ["IDENTITY_VERIFICATION_1", "CREDIT_REPORT_1"]
    assert sent.params("email_address") == ["x@example.com"]
    assert sent.params("group") == [g1, g2]
    assert sent.params("order_timeframe_after") == ["2025-01-01"]
    assert sent.params("order_timeframe_before") == ["2025-12-31"]
    assert sent.params("ordered_by") == [user["email"], user["id"]]
    assert sent.params("overall_status") == ["COMPLETE", "IN_PROGRESS"]
    assert sent.params("tag") == ["driver", "rehire"]
    assert sent.params("page_size") == ["25"]


async def test_empty_filters_are_not_sent(client: CertnClient, emu: CertnEmulator) -> None:
    await client.list_cases(tag="driver")
    keys = {k for k, _ in case_requests(emu)[-1].query}
    assert keys == {"tag", "page", "page_size"}
    assert case_requests(emu)[-1].params("tag") == ["driver"]


async def test_filter_results_match(client: CertnClient, emu: CertnEmulator) -> None:
    page = await client.list_cases(overall_status=["IN_DISPUTE"], check_type=["CREDIT_REPORT_1"], page_size=100)
    expected = [
        c.id
        for c in emu.store.ordered()
        if c.overall_status == "IN_DISPUTE" and any(k.type == "CREDIT_REPORT_1" for k in c.checks)
    ]
    assert [c.id for c in page.results] == expected and expected
    assert page.result_count == len(expected)
    assert all(c.overall_status == "IN_DISPUTE" for c in page.results)


# ------------------------------------------------------------------------------------- paging


async def test_paging_three_pages_without_gaps(client: CertnClient, emu: CertnEmulator) -> None:
    expected = [c.id for c in emu.store.ordered() if c.overall_status == "COMPLETE"]
    seen: list[str] = []
    page_no: int | None = 1
    pages = 0
    while page_no is not None:
        page = await client.list_cases(overall_status=["COMPLETE"], page=page_no, page_size=40)
        assert page.current_page == page_no and page.page_size == 40
        seen += [c.id for c in page.results]
        page_no = page.next_page
        pages += 1
    assert pages >= 3 and pages == page.page_count
    assert seen == expected and len(set(seen)) == len(seen)


async def test_page_past_end_is_invalid_page(client: CertnClient) -> None:
    with pytest.raises(InvalidRequest) as info:
        await client.list_cases(page=500)
    assert info.value.field == "page" and info.value.status == 404


async def test_page_size_bounds_checked_before_sending(client: CertnClient, emu: CertnEmulator) -> None:
    for size in (0, 101):
        with pytest.raises(InvalidRequest) as info:
            await client.list_cases(page_size=size)
        assert info.value.field == "page_size"
    with pytest.raises(InvalidRequest):
        await client.list_cases(page=0)
    assert emu.requests == []
    assert len((await client.list_cases(page_size=100)).results) == 100


async def test_drf_shape_is_tolerated(client: CertnClient, emu: CertnEmulator) -> None:
    case = emu.store.ordered()[0].to_wire()
    emu.inject(
        kind="status",
        status=200,
        body={
            "count": 25,
            "next": "https://api.sandbox.certn.co/api/public/cases/?page=3&page_size=10",
            "previous": "https://api.sandbox.certn.co/api/public/cases/?page_size=10",
            "results": [case],
        },
    )
    page = await client.list_cases(page=2)
    assert isinstance(page, CasePage)
    assert (page.result_count, page.next_page, page.previous_page, page.current_page) == (25, 3, 1, 2)
    assert page.results[0].id == case["id"]
    emu.inject(kind="status", status=200, body={"count": 1, "next": None, "previous": None, "results": [case]})
    page = await client.list_cases()
    assert not page.has_next and page.current_page is None and page.result_count == 1


# ------------------------------------------------------------------------------------- detail


async def test_get_case_with_checks(client: CertnClient, emu: CertnEmulator) -> None:
    stored = next(c for c in emu.store.ordered() if len(c.checks) == 3 and c.overall_status == "COMPLETE")
    case = await client.get_case(stored.id)
    assert case.id == stored.id and case.short_id == stored.short_id
    assert case.overall_status == "COMPLETE" and case.overall_score in ("CLEAR", "REVIEW")
    assert case.group_id == stored.group
    assert [k.type for k in case.checks] == [k.type for k in stored.checks]
    assert all(k.status == s.status and k.score == s.score for k, s in zip(case.checks, stored.checks, strict=True))
    assert case.email_address == stored.email_address


async def test_hostile_case_parses_as_data(client: CertnClient) -> None:
    case = await client.get_case(HOSTILE_CASE_ID)
    assert case.applicant_name and "Ignore previous instructions" in case.applicant_name


async def test_supplementary(client: CertnClient, emu: CertnEmulator) -> None:
    stored = next(c for c in emu.store.ordered() if c.overall_status == "COMPLETE")
    info = await client.supplementary_information(stored.id)
    files = await client.supplementary_files(stored.id)
    assert info.id == files.id == stored.id
    complete = [k for k in stored.checks if k.status == "COMPLETE"]
    by_id = {k.id: k for k in files.checks}
    for k in complete:
        assert by_id[k.id].supplementary_files[0].name == k.files[0]
        assert "X-Amz-Expires=10800" in (by_id[k.id].supplementary_files[0].url or "")
    assert {k.id: k.supplementary_information for k in info.checks}[complete[0].id]


async def test_supplementary_bare_list_is_tolerated(client: CertnClient, emu: CertnEmulator) -> None:
    emu.inject(kind="status", status=200, body=[{"id": "k", "type": "CREDIT_REPORT_1", "supplementary_files": None}])
    files = await client.supplementary_files(HOSTILE_CASE_ID)
    assert files.checks[0].type == "CREDIT_REPORT_1" and files.checks[0].supplementary_files == []


async def test_groups(client: CertnClient, emu: CertnEmulator) -> None:
    groups = await client.list_groups()
    assert isinstance(groups, GroupPage)
    assert [g.id for g in groups.results] == [g.id for g in emu.store.groups]
    assert groups.result_count == len(emu.store.groups)
    second = await client.list_groups(page=2, page_size=2)
    assert second.previous_page == 1 and [g.id for g in second.results] == [g.id for g in emu.store.groups[2:4]]


# ------------------------------------------------------------------------------------- errors


async def test_wrong_key_is_authentication_failed(emu: CertnEmulator, base_url: str, fast_policy: HttpPolicy) -> None:
    secret = "sk_live_do_not_leak_123456"
    async with CertnClient.connect(base_url, secret, policy=fast_policy) as bad:
        with pytest.raises(AuthenticationFailed) as info:
            await bad.list_cases()
    err = info.value
    assert err.status == 401 and not err.retryable
    assert "CERTN_API_KEY" in (err.hint or "") and "365 days" in (err.hint or "")
    for text in (str(err), err.message, err.hint or ""):
        assert secret not in text


async def test_403_is_authentication_failed(client: CertnClient, emu: CertnEmulator) -> None:
    body = error_body("client_error", "permission_denied", "You do not have permission to perform this action.")
    emu.inject(kind="status", status=403, body=body)
    with pytest.raises(AuthenticationFailed) as info:
        await client.get_case(HOSTILE_CASE_ID)
    assert "permission" in info.value.message and info.value.status == 403


@pytest.mark.parametrize("case_id", ["0b7c8d6e-0000-4000-8000-000000000000", "not-a-uuid", "../groups"])
async def test_unknown_case_is_not_found(client: CertnClient, case_id: str) -> None:
    with pytest.raises(NotFound) as info:
        await client.get_case(case_id)
    assert info.value.status == 404 and info.value.category == "not_found"
    with pytest.raises(NotFound):
        await client.supplementary_files(case_id)


async def test_empty_case_id_is_refused(client: CertnClient, emu: CertnEmulator) -> None:
    with pytest.raises(InvalidRequest):
        await client.get_case("  ")
    assert emu.requests == []


async def test_validation_error_names_field(client: CertnClient) -> None:
    with pytest.raises(InvalidRequest) as info:
        await client.list_cases(overall_status=["DONE"])
    err = info.value
    assert err.field == "overall_status" and err.status == 400
    assert "DONE is not one of the available choices" in err.message


async def test_validation_error_joins_details_and_redacts(client: CertnClient, emu: CertnEmulator) -> None:
    body = {
        "type": "validation_error",
        "errors": [
            {"code": "invalid", "detail": f"bad header Api-Key {SANDBOX_API_KEY}", "attr": "email_address"},
            {"code": "required", "detail": "tag is required", "attr": "tag"},
        ],
    }
    emu.inject(kind="status", status=400, body=body)
    with pytest.raises(InvalidRequest) as info:
        await client.list_cases()
    err = info.value
    assert err.field == "email_address" and "tag is required" in err.message and "[redacted]" in err.message
    assert_clean(err)


def test_write_validation_error_is_rejected() -> None:
    import httpx2 as httpx

    from casebridge.providers.certn.client import _raise_for_status
    from casebridge.providers.http import ProviderHTTP

    http = ProviderHTTP("certn", "http://x", secrets=["sk_test_secret_key"])
    response = httpx.Response(400, json=error_body("validation_error", "invalid", "Case cannot be cancelled"))
    with pytest.raises(Rejected) as info:
        _raise_for_status(http, response, what="case", write=True)
    assert info.value.message == "Case cannot be cancelled" and info.value.category == "provider_rejected"


async def test_429_short_retry_after_is_retried(client: CertnClient, emu: CertnEmulator) -> None:
    body = error_body("client_error", "throttled", "Request was throttled. Expected available in 0 seconds.")
    emu.inject(kind="status", status=429, body=body, headers={"Retry-After": "0"})
    page = await client.list_cases()
    assert len(page.results) == 10
    assert len(case_requests(emu)) == 2


async def test_429_long_retry_after_is_reported(client: CertnClient, emu: CertnEmulator) -> None:
    body = error_body("client_error", "throttled", "Request was throttled. Expected available in 120 seconds.")
    emu.inject(kind="status", status=429, body=body, headers={"Retry-After": "120"})
    with pytest.raises(RateLimited) as info:
        await client.list_cases()
    assert info.value.retry_after == 120 and info.value.retryable
    assert len(case_requests(emu)) == 1


async def test_429_wait_read_from_detail(client: CertnClient, emu: CertnEmulator) -> None:
    body = error_body("client_error", "throttled", "Request was throttled. Expected available in 42 seconds.")
    emu.inject(kind="status", status=429, body=body, times=3)
    with pytest.raises(RateLimited) as info:
        await client.list_cases()
    assert info.value.retry_after == 42
    assert len(case_requests(emu)) == 3


async def test_503_retried_then_unavailable(client: CertnClient, emu: CertnEmulator) -> None:
    emu.inject(kind="status", status=503, body=error_body("server_error", "error", "A server error occurred."), times=3)
    with pytest.raises(Unavailable) as info:
        await client.list_cases()
    assert info.value.status == 503 and "A server error occurred." in info.value.message
    assert len(case_requests(emu)) == 3


async def test_503_once_recovers(client: CertnClient, emu: CertnEmulator) -> None:
    emu.inject(kind="status", status=503)
    assert (await client.list_cases()).result_count == len(emu.store.cases)


async def test_500_on_get_is_retried(client: CertnClient, emu: CertnEmulator) -> None:
    emu.inject(
        kind="status", status=500, times=99, body=error_body("server_error", "error", "A server error occurred.")
    )
    with pytest.raises(Unavailable):
        await client.get_case(HOSTILE_CASE_ID)
    assert len(emu.requests) == client.http.policy.attempts


async def test_html_gateway_page(client: CertnClient, emu: CertnEmulator) -> None:
    emu.inject(kind="html", times=3)
    with pytest.raises(Unavailable) as info:
        await client.list_cases()
    assert "text/html" in info.value.message and info.value.status == 502


async def test_html_with_200_is_malformed(client: CertnClient, emu: CertnEmulator) -> None:
    emu.inject(kind="html", status=200)
    with pytest.raises(MalformedResponse) as info:
        await client.get_case(HOSTILE_CASE_ID)
    assert "text/html" in info.value.message


async def test_unexpected_error_body_on_4xx_is_malformed(client: CertnClient, emu: CertnEmulator) -> None:
    emu.inject(kind="status", status=400, body=b"oops")
    with pytest.raises(MalformedResponse):
        await client.list_cases()


async def test_broken_json_is_malformed(client: CertnClient, emu: CertnEmulator) -> None:
    emu.inject(kind="malformed")
    with pytest.raises(MalformedResponse) as info:
        await client.list_cases()
    assert info.value.retryable


async def test_wrong_shape_is_malformed(client: CertnClient, emu: CertnEmulator) -> None:
    emu.inject(kind="status", status=200, body={"results": [{"no_id": True}]})
    with pytest.raises(MalformedResponse):
        await client.list_cases()
    emu.inject(kind="status", status=200, body="just a string")
    with pytest.raises(MalformedResponse):
        await client.get_case(HOSTILE_CASE_ID)


async def test_dropped_connection_once_is_retried(client: CertnClient, emu: CertnEmulator) -> None:
    emu.inject(kind="drop")
    case = await client.get_case(HOSTILE_CASE_ID)
    assert case.id == HOSTILE_CASE_ID
    assert len(emu.requests) == 2


async def test_dropped_connection_every_time_is_unavailable(client: CertnClient, emu: CertnEmulator) -> None:
    emu.inject(kind="drop", times=3)
    with pytest.raises(Unavailable) as info:
        await client.list_cases()
    assert info.value.retryable
    assert_clean(info.value)


async def test_slow_answer_times_out(emu: CertnEmulator, base_url: str) -> None:
    policy = HttpPolicy(read_timeout=0.2, deadline=1.0, attempts=2, wait_initial=0.01, wait_max=0.01, wait_jitter=0)
    emu.inject(kind="latency", seconds=1.5, times=2)
    async with CertnClient.connect(base_url, SANDBOX_API_KEY, policy=policy) as slow:
        with pytest.raises(Timeout) as info:
            await slow.list_cases()
    assert info.value.retryable and info.value.category == "timeout"
    assert_clean(info.value)


async def test_unreachable_service_is_unavailable(fast_policy: HttpPolicy) -> None:
    from casebridge.sandbox.emulation import free_port

    async with CertnClient.connect(f"http://127.0.0.1:{free_port()}", SANDBOX_API_KEY, policy=fast_policy) as c:
        with pytest.raises(Unavailable) as info:
            await c.list_groups()
    assert_clean(info.value)
