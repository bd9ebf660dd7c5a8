"""ClearinghouseClient against the emulator on a real loopback socket: wire models, paging, errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from casebridge.providers.clearinghouse.client import CasePage, ClearinghouseClient
from casebridge.providers.clearinghouse.models import cursor_of
from casebridge.providers.errors import (
    AuthenticationFailed,
    InvalidRequest,
    MalformedResponse,
    NotConfigured,
    NotFound,
    ProviderError,
    RateLimited,
    Rejected,
    Timeout,
    Unavailable,
)
from casebridge.providers.http import HttpPolicy
from casebridge.sandbox.clearinghouse.app import SANDBOX_TOKEN
from casebridge.sandbox.clearinghouse.data import BUSY_CASE_ID, dataset
from casebridge.sandbox.emulation import Emulator

CASES_PATH = "/api/v2p1/cases"
PAGE_SIZE = 7  # the conftest's emulator page size (checked by test_page_size_fixture)
Connect = Callable[..., ClearinghouseClient]


def test_page_size_fixture(page_size: int) -> None:
    assert page_size == PAGE_SIZE


def expected_ids(predicate: Callable[[dict[str, Any]], bool]) -> list[int]:
    return [case.id for case in dataset().cases if predicate(case.body)]


async def collect(api: ClearinghouseClient, filters: dict[str, Any]) -> tuple[list[int], int]:
    ids: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = await api.search(filters, cursor)
        pages += 1
        ids.extend(case.id for case in page.results)
        cursor = page.next_cursor
        if cursor is None:
            return ids, pages


def assert_secret_free(err: ProviderError, secret: str) -> None:
    for text in (str(err), repr(err), err.message, err.hint or ""):
        assert secret not in text


def case_requests(emu: Emulator) -> int:
    return sum(1 for r in emu.requests if r.path.startswith(CASES_PATH))


# --- search, filters and pagination ---------------------------------------------------------


async def test_search_returns_typed_cases_with_labels(api: ClearinghouseClient, emu: Emulator) -> None:
    page = await api.search({"case_type": 5039})
    assert len(page.results) == PAGE_SIZE
    for case in page.results:
        assert "Policing" in case.case_types
        assert case.name and case.case_ongoing and case.filing_date
        assert case.case_documents_url == f"{api.http.base_url}cases/{case.id}/documents/"
    assert emu.requests[0].headers["authorization"] == f"Token {SANDBOX_TOKEN}"


async def test_pagination_across_pages_has_no_gaps_or_duplicates(api: ClearinghouseClient) -> None:
    ids, pages = await collect(api, {"case_type": 5034})
    assert pages >= 3
    assert ids == expected_ids(lambda body: "Prison Conditions" in body["case_types"])


async def test_cursor_is_reissued_against_our_own_base_url(api: ClearinghouseClient, emu: Emulator) -> None:
    emu.inject(
        kind="status",
        status=200,
        body={"next": "https://evil.example/api/v2p1/cases/?cursor=cD0zMDAwMA%3D%3D&no_cache=1", "results": []},
    )
    page = await api.search({})
    assert page.next_cursor == "cD0zMDAwMA=="
    follow = await api.search({}, page.next_cursor)
    assert follow.results and all(case.id < 30000 for case in follow.results)
    sent = emu.requests[-1]
    assert sent.path == "/api/v2p1/cases/" and sent.params("cursor") == ["cD0zMDAwMA=="]


async def test_previous_cursor_returns_the_earlier_page(api: ClearinghouseClient) -> None:
    first = await api.search({"case_type": 5056})
    second = await api.search({"case_type": 5056}, first.next_cursor)
    previous = cursor_of(second.previous)
    assert previous is not None
    back = await api.search({"case_type": 5056}, previous)
    assert [c.id for c in back.results] == [c.id for c in first.results]


async def test_different_filters_are_anded(api: ClearinghouseClient) -> None:
    ids, _ = await collect(api, {"case_type": 5039, "defendant_level": 6147})
    want = expected_ids(
        lambda b: "Policing" in b["case_types"] and any(d["defendant_level"] == "City" for d in b["case_defendants"])
    )
    assert ids == want and want


async def test_repeated_filter_is_ored(api: ClearinghouseClient) -> None:
    ids, _ = await collect(api, {"case_type": [5039, 5034]})
    assert ids == expected_ids(lambda b: bool({"Policing", "Prison Conditions"} & set(b["case_types"])))


async def test_state_and_court_ids(api: ClearinghouseClient) -> None:
    ids, _ = await collect(api, {"state": 5853})
    assert ids and ids == expected_ids(lambda b: b["state"] == "Puerto Rico")
    page = await api.search({"court": 1790})
    assert page.results and {c.court for c in page.results} == {"U. S. Court of International Trade"}


async def test_text_search_is_case_insensitive(api: ClearinghouseClient) -> None:
    ids, _ = await collect(api, {"text": "SOLITARY Confinement"})
    data = dataset()
    want = [
        case.id
        for case in data.cases
        if "solitary confinement"
        in " ".join(
            [case.body["name"], case.body["summary"], *(data.document_text.get(d["id"], "") for d in case.documents)]
        ).lower()
    ]
    assert ids == want and want


async def test_no_results_is_an_empty_page(api: ClearinghouseClient) -> None:
    page = await api.search({"case_id": 1, "case_ongoing": 5021})
    assert page == CasePage() and page.next_cursor is None


async def test_get_by_case_id(api: ClearinghouseClient, emu: Emulator) -> None:
    case = await api.get(BUSY_CASE_ID)
    assert case.id == BUSY_CASE_ID and case.main_docket is not None and case.main_docket.number
    assert emu.requests[-1].params("case_id") == [str(BUSY_CASE_ID)]
    with pytest.raises(NotFound):
        await api.get(2)


# --- sub-resources ----------------------------------------------------------------------------


async def test_documents_follow_a_bounded_number_of_pages(api: ClearinghouseClient) -> None:
    all_docs = sorted((d["id"] for d in dataset().by_id[BUSY_CASE_ID].documents), reverse=True)
    docs = await api.documents(BUSY_CASE_ID)
    assert len(all_docs) > 5 * PAGE_SIZE  # more than the client will follow
    assert [d.id for d in docs] == all_docs[: 5 * PAGE_SIZE]
    few = await api.documents(BUSY_CASE_ID, limit=10)
    assert [d.id for d in few] == all_docs[:10]
    assert any(d.has_text and d.text_url for d in docs)


async def test_dockets_and_resources(api: ClearinghouseClient) -> None:
    dockets = await api.dockets(BUSY_CASE_ID)
    assert dockets and dockets[0].docket_entries and dockets[0].number
    resources = await api.resources(BUSY_CASE_ID)
    assert [r.id for r in resources] == sorted((r["id"] for r in dataset().by_id[BUSY_CASE_ID].resources), reverse=True)
    empty = next(c for c in dataset().cases if not c.resources)
    assert await api.resources(empty.id) == []
    with pytest.raises(NotFound):
        await api.documents(2)


# --- error mapping ----------------------------------------------------------------------------


async def test_unknown_key_is_invalid_request_naming_the_field(api: ClearinghouseClient) -> None:
    with pytest.raises(InvalidRequest) as info:
        await api.search({"test_key": 1})
    assert info.value.field == "test_key" and info.value.status == 400


async def test_non_integer_is_invalid_request(api: ClearinghouseClient) -> None:
    with pytest.raises(InvalidRequest) as info:
        await api.search({"case_type": "xyz"})
    assert "xyz is not an integer" in info.value.message and info.value.field == "case_type"


async def test_other_400_is_rejected(api: ClearinghouseClient, emu: Emulator) -> None:
    emu.inject(kind="status", status=400, body={"detail": "The 'case' query parameter is required."})
    with pytest.raises(Rejected) as info:
        await api.search({})
    assert "query parameter is required" in info.value.message


async def test_invalid_cursor_is_invalid_request(api: ClearinghouseClient) -> None:
    with pytest.raises(InvalidRequest) as info:
        await api.search({}, "bm90IGEgY3Vyc29y")
    assert info.value.field == "cursor"


async def test_missing_credentials(api: ClearinghouseClient, emu: Emulator) -> None:
    emu.inject(kind="status", status=401, body={"detail": "Authentication credentials were not provided."})
    with pytest.raises(AuthenticationFailed) as info:
        await api.search({})
    assert "not provided" in info.value.message
    assert "CLEARINGHOUSE_API_TOKEN" in (info.value.hint or "")


async def test_wrong_token_never_leaks(connect: Connect) -> None:
    secret = "wrong-token-0123456789"
    with pytest.raises(AuthenticationFailed) as info:
        await connect(secret).search({"case_type": 5039})
    assert info.value.message == "Invalid token." and info.value.status == 401
    assert_secret_free(info.value, secret)


async def test_forbidden_is_authentication(api: ClearinghouseClient, emu: Emulator) -> None:
    emu.inject(kind="status", status=403, body={"detail": "You do not have permission to perform this action."})
    with pytest.raises(AuthenticationFailed):
        await api.search({})


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, [f"API Error: Key: token, Value: {SANDBOX_TOKEN} not found."]),
        (400, [f"something about Token {SANDBOX_TOKEN}"]),
        (401, {"detail": f"Invalid token {SANDBOX_TOKEN}."}),
        (404, {"detail": f"No such thing for {SANDBOX_TOKEN}"}),
        (500, {"detail": f"crash while checking {SANDBOX_TOKEN}"}),
    ],
)
async def test_echoed_secret_is_redacted(api: ClearinghouseClient, emu: Emulator, status: int, body: Any) -> None:
    emu.inject(kind="status", status=status, body=body, times=10)  # a 500 is retried
    with pytest.raises(ProviderError) as info:
        await api.search({})
    assert_secret_free(info.value, SANDBOX_TOKEN)
    assert "[redacted]" in info.value.message


async def test_short_retry_after_is_retried(api: ClearinghouseClient, emu: Emulator) -> None:
    emu.inject(kind="status", status=429, headers={"Retry-After": "0"}, body={"detail": "slow down"})
    page = await api.search({"case_type": 5039})
    assert page.results
    assert case_requests(emu) == 2


async def test_long_retry_after_is_reported_not_slept_on(api: ClearinghouseClient, emu: Emulator) -> None:
    emu.inject(kind="status", status=429, headers={"Retry-After": "120"}, body={"detail": "slow down"})
    with pytest.raises(RateLimited) as info:
        await api.search({})
    assert info.value.retry_after == 120 and info.value.retryable
    assert case_requests(emu) == 1


async def test_persistent_429_is_rate_limited(api: ClearinghouseClient, emu: Emulator) -> None:
    emu.inject(kind="status", status=429, times=10, headers={"Retry-After": "0"})
    with pytest.raises(RateLimited) as info:
        await api.search({})
    assert info.value.retry_after == 0
    assert case_requests(emu) == api.http.policy.attempts


async def test_500_is_retried_then_unavailable(api: ClearinghouseClient, emu: Emulator) -> None:
    emu.inject(kind="status", status=500, times=99, body={"detail": "Server Error"})
    with pytest.raises(Unavailable) as info:
        await api.search({})
    assert info.value.retryable and info.value.status == 500
    assert case_requests(emu) == api.http.policy.attempts


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_gateway_errors_are_retried(api: ClearinghouseClient, emu: Emulator, status: int) -> None:
    emu.inject(kind="status", status=status)
    page = await api.search({"case_type": 5039})
    assert page.results
    assert case_requests(emu) == 2


async def test_persistent_503_is_unavailable(api: ClearinghouseClient, emu: Emulator) -> None:
    emu.inject(kind="status", status=503, times=10)
    with pytest.raises(Unavailable):
        await api.search({})
    assert case_requests(emu) == api.http.policy.attempts


async def test_html_error_page(api: ClearinghouseClient, emu: Emulator) -> None:
    emu.inject(kind="html", status=502, times=10)
    with pytest.raises(Unavailable) as info:
        await api.search({})
    assert info.value.status == 502


async def test_html_with_200_is_malformed(api: ClearinghouseClient, emu: Emulator) -> None:
    emu.inject(kind="html", status=200)
    with pytest.raises(MalformedResponse):
        await api.search({})


async def test_truncated_json_is_malformed(api: ClearinghouseClient, emu: Emulator) -> None:
    emu.inject(kind="malformed")
    with pytest.raises(MalformedResponse):
        await api.search({})


async def test_wrong_shape_is_malformed(api: ClearinghouseClient, emu: Emulator) -> None:
    emu.inject(kind="status", status=200, body={"results": [{"name": "no id"}]})
    with pytest.raises(MalformedResponse):
        await api.search({})


async def test_dropped_connection_is_retried(api: ClearinghouseClient, emu: Emulator) -> None:
    emu.inject(kind="drop")
    assert (await api.search({"case_type": 5039})).results
    assert case_requests(emu) == 2


async def test_persistently_dropped_connection_is_unavailable(api: ClearinghouseClient, emu: Emulator) -> None:
    emu.inject(kind="drop", times=10)
    with pytest.raises(Unavailable):
        await api.search({})


async def test_latency_past_the_deadline_is_timeout(connect: Connect, emu: Emulator) -> None:
    client = connect(policy=HttpPolicy(read_timeout=5.0, deadline=0.3, attempts=3, wait_initial=0.01))
    emu.inject(kind="latency", seconds=1.5)
    with pytest.raises(Timeout) as info:
        await client.search({})
    assert info.value.retryable


async def test_read_timeouts_on_every_attempt_are_timeout(connect: Connect, emu: Emulator) -> None:
    client = connect(policy=HttpPolicy(read_timeout=0.2, deadline=4.0, attempts=2, wait_initial=0.01))
    emu.inject(kind="latency", seconds=1.0, times=2)
    with pytest.raises(Timeout):
        await client.search({})
    assert case_requests(emu) == 2


def test_connect_without_token_is_not_configured() -> None:
    with pytest.raises(NotConfigured):
        ClearinghouseClient.connect("http://127.0.0.1:9/api/v2p1", " ")


@pytest.mark.parametrize(("status", "error"), [(401, AuthenticationFailed), (404, NotFound), (400, MalformedResponse)])
async def test_non_json_client_errors(
    api: ClearinghouseClient, emu: Emulator, status: int, error: type[ProviderError]
) -> None:
    emu.inject(kind="status", status=status, body=b"<html><body>Not here</body></html>")
    with pytest.raises(error) as info:
        await api.search({})
    assert info.value.status == status
