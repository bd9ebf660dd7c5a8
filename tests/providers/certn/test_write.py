"""Certn write side over a real socket: order, order-package, cancel, reports, errors and POST faults.

These tests change the store, so they use their own emulator rather than the read tests' one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import date
from typing import Any

import httpx2 as httpx
import pytest

from casebridge.providers.certn.client import CertnClient
from casebridge.providers.certn.extra import (
    Address,
    CheckArguments,
    InputClaims,
    Name,
    OrderRequest,
    PackageOrderRequest,
    Residence,
)
from casebridge.providers.errors import (
    MalformedResponse,
    NotFound,
    ProviderError,
    RateLimited,
    Rejected,
    Timeout,
    Unavailable,
)
from casebridge.sandbox.certn.app import SANDBOX_API_KEY, CertnEmulator, build, error_body
from casebridge.sandbox.certn.store import (
    PACKAGE_BASIC_ID,
    PACKAGE_FULL_ID,
    PACKAGE_RETIRED_ID,
    REPORT_FAILS_CASE_ID,
)
from casebridge.sandbox.emulation import LoopbackServer, free_port
from tests.providers.certn.conftest import FAST
from tests.support import resetting

WRITE_FAST = replace(FAST, read_timeout=0.5, deadline=1.0)
ORDER = "/api/public/cases/order/"
PACKAGE = "/api/public/cases/order-package/"
CRIMINAL = CheckArguments(
    ordering_type="EXPLICIT_ORDERING", explicit_check_type=["BASIC_CANADIAN_CRIMINAL_RECORD_REPORT_1"]
)
FULL_CLAIMS = InputClaims(
    name=Name(given_name="Jane", family_name="Doe"),
    date_of_birth=date(1990, 5, 17),
    residences=[
        Residence(
            address=Address(street_address="123 King St W", locality="Toronto", country="CA"),
            start_date=date(2018, 1, 1),
        )
    ],
)


@pytest.fixture(scope="module")
def writable() -> Iterator[tuple[CertnEmulator, str]]:
    emu = build()
    server = LoopbackServer(emu.app).start()  # type: ignore[arg-type]
    yield emu, server.url
    server.stop()


@pytest.fixture
def emu(writable: tuple[CertnEmulator, str]) -> Iterator[CertnEmulator]:
    yield from resetting(writable[0])


@pytest.fixture
async def client(emu: CertnEmulator, writable: tuple[CertnEmulator, str]) -> AsyncIterator[CertnClient]:
    c = CertnClient.connect(writable[1], SANDBOX_API_KEY, policy=WRITE_FAST)
    yield c
    await c.aclose()


@pytest.fixture
def raw(writable: tuple[CertnEmulator, str]) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Api-Key {SANDBOX_API_KEY}"}
    with httpx.Client(base_url=writable[1], headers=headers, timeout=5) as c:
        yield c


def order(email: str, **kw: Any) -> OrderRequest:
    checks = kw.pop("checks", {"IDENTITY_VERIFICATION_1": CheckArguments(), "CRIMINAL_RECORD_REPORT_1": CRIMINAL})
    return OrderRequest(email_address=email, check_types_with_arguments=checks, **kw)


def posts(emu: CertnEmulator, path: str) -> int:
    return sum(1 for r in emu.requests if r.path == path and r.method == "POST")


# ---------------------------------------------------------------------------------------- order


async def test_order_sends_the_documented_body_and_creates_a_case(client: CertnClient, emu: CertnEmulator) -> None:
    group = emu.store.groups[0].id
    body = order("jane.write@example.com", tags=["driver"], group=group, input_claims=FULL_CLAIMS)
    case = await client.order_case(body)
    sent = emu.requests[-1]
    assert (sent.method, sent.path) == ("POST", ORDER)
    assert sent.headers["authorization"] == f"Api-Key {SANDBOX_API_KEY}"
    assert sent.json() == {
        "email_address": "jane.write@example.com",
        "check_types_with_arguments": {
            "IDENTITY_VERIFICATION_1": {},
            "CRIMINAL_RECORD_REPORT_1": {
                "ordering_type": "EXPLICIT_ORDERING",
                "explicit_check_type": ["BASIC_CANADIAN_CRIMINAL_RECORD_REPORT_1"],
            },
        },
        "send_invite_email": True,
        "return_invite_link": False,
        "input_claims": {
            "name": {"given_name": "Jane", "family_name": "Doe"},
            "date_of_birth": "1990-05-17",
            "residences": [
                {
                    "address": {"street_address": "123 King St W", "locality": "Toronto", "country": "CA"},
                    "start_date": "2018-01-01",
                }
            ],
        },
        "group": group,
        "tags": ["driver"],
    }
    assert case.overall_status == "APPLICANT_INVITED"
    assert {c.type for c in case.checks} == {"IDENTITY_VERIFICATION_1", "CRIMINAL_RECORD_REPORT_1"}
    assert {c.status for c in case.checks} == {"AWAITING_APPLICANT_SUBMISSION"}
    assert case.invite_link is None
    # The new case is listed first and readable.
    assert (await client.get_case(case.id)).email_address == "jane.write@example.com"
    assert (await client.list_cases(email_address="jane.write@example.com")).results[0].id == case.id


async def test_invite_link_flow_and_quickscreen(client: CertnClient) -> None:
    linked = await client.order_case(order("link@example.com", send_invite_email=False, return_invite_link=True))
    assert linked.overall_status == "CASE_ORDERED"
    assert linked.invite_link and "/_invite/" in linked.invite_link
    quick = await client.order_case(order("quick@example.com", send_invite_email=False, input_claims=FULL_CLAIMS))
    assert quick.overall_status == "APPLICANT_SUBMITTED"
    assert {c.status for c in quick.checks} == {"PENDING_FULFILLMENT"}
    assert quick.invite_link is None


async def test_checks_move_through_realistic_statuses(client: CertnClient, emu: CertnEmulator) -> None:
    case = await client.order_case(order("timeline@example.com"))
    seen = [case.overall_status]
    for _ in range(12):
        emu.store.travel(10 * 60)
        now = await client.get_case(case.id)
        if now.overall_status != seen[-1]:
            seen.append(now.overall_status)
    assert seen == [
        "APPLICANT_INVITED",
        "APPLICANT_OPENED",
        "APPLICANT_STARTED",
        "APPLICANT_SUBMITTED",
        "IN_PROGRESS",
        "COMPLETE",
    ]
    done = await client.get_case(case.id)
    assert {c.status for c in done.checks} == {"COMPLETE"} and done.overall_score == "CLEAR"


@pytest.mark.parametrize(
    ("body", "attr", "code"),
    [
        ({"check_types_with_arguments": {"IDENTITY_VERIFICATION_1": {}}}, "email_address", "required"),
        ({"email_address": "not-an-email", "check_types_with_arguments": {"IDENTITY_VERIFICATION_1": {}}},
         "email_address", "invalid"),
        ({"email_address": "a@example.com", "check_types_with_arguments": {"DRUG_TEST_9": {}}},
         "check_types_with_arguments.DRUG_TEST_9", "invalid_choice"),
        ({"email_address": "a@example.com"}, "check_types_with_arguments", "required"),
        ({"email_address": "a@example.com", "check_types_with_arguments": {"IDENTITY_VERIFICATION_1": {}},
          "send_invite_email": False}, "input_claims.name.given_name", "required"),
        ({"email_address": "a@example.com", "check_types_with_arguments": {"IDENTITY_VERIFICATION_1": {}},
          "group": "nope"}, "group", "does_not_exist"),
    ],
)  # fmt: skip
def test_validation_errors_have_certn_shape(
    raw: httpx.Client, emu: CertnEmulator, body: Any, attr: str, code: str
) -> None:
    before = len(emu.store.cases)
    r = raw.post(ORDER, json=body)
    assert r.status_code == 400
    data = r.json()
    assert data["type"] == "validation_error"
    assert any(e["attr"] == attr and e["code"] == code and e["detail"] for e in data["errors"]), data
    assert len(emu.store.cases) == before


def test_quickscreen_names_every_missing_claim(raw: httpx.Client) -> None:
    body = {
        "email_address": "q@example.com",
        "check_types_with_arguments": {"IDENTITY_VERIFICATION_1": {}},
        "send_invite_email": False,
        "input_claims": {"name": {"given_name": "Q"}},
    }
    attrs = {e["attr"] for e in raw.post(ORDER, json=body).json()["errors"]}
    assert attrs == {"input_claims.name.family_name", "input_claims.date_of_birth", "input_claims.residences"}


async def test_client_maps_validation_to_rejected_with_field(client: CertnClient) -> None:
    with pytest.raises(Rejected) as info:
        await client.order_case(order("nobody"))
    assert info.value.field == "email_address" and "valid email" in info.value.message
    assert not info.value.maybe_sent and not info.value.retryable


# -------------------------------------------------------------------------------------- packages


async def test_order_package(client: CertnClient, emu: CertnEmulator) -> None:
    case = await client.order_package(PackageOrderRequest(email_address="pkg@example.com", package=PACKAGE_FULL_ID))
    assert emu.requests[-1].path == PACKAGE
    assert {c.type for c in case.checks} == {"IDENTITY_VERIFICATION_1", "CRIMINAL_RECORD_REPORT_1", "CREDIT_REPORT_1"}
    basic = await client.order_package(PackageOrderRequest(email_address="pkg@example.com", package=PACKAGE_BASIC_ID))
    assert len(basic.checks) == 2


def test_package_id_field_is_accepted_too(raw: httpx.Client) -> None:
    r = raw.post(PACKAGE, json={"email_address": "alias@example.com", "package_id": PACKAGE_BASIC_ID})
    assert r.status_code == 201


@pytest.mark.parametrize(("package", "words"), [(PACKAGE_RETIRED_ID, "deactivated"), ("0" * 32, "does not exist")])
async def test_inactive_or_unknown_package_is_rejected(client: CertnClient, package: str, words: str) -> None:
    with pytest.raises(Rejected) as info:
        await client.order_package(PackageOrderRequest(email_address="pkg@example.com", package=package))
    assert info.value.field == "package" and words in info.value.message


# ---------------------------------------------------------------------------------------- cancel


async def test_cancel_allowed_while_waiting(client: CertnClient, emu: CertnEmulator) -> None:
    case = await client.order_case(order("cancel.me@example.com"))
    cancelled = await client.cancel_case(case.id)
    assert cancelled is not None and cancelled.overall_status == "CANCELLED"
    assert {c.status for c in cancelled.checks} == {"CANCELLED"}
    emu.store.travel(6 * 3600)  # nothing moves on after a cancel
    assert (await client.get_case(case.id)).overall_status == "CANCELLED"


async def test_cancel_refused_once_a_check_has_started(client: CertnClient, emu: CertnEmulator) -> None:
    case = await client.order_case(order("too.late@example.com", send_invite_email=False, input_claims=FULL_CLAIMS))
    emu.store.travel(15 * 60)
    assert "IN_PROGRESS" in {c.status for c in (await client.get_case(case.id)).checks}
    with pytest.raises(Rejected) as info:
        await client.cancel_case(case.id)
    assert info.value.message == "Case cannot be cancelled" and info.value.status == 400
    body = emu.requests[-1]
    assert body.path.endswith("/cancel/") and body.body == b""


async def test_cancel_twice_and_unknown_case(client: CertnClient) -> None:
    case = await client.order_case(order("twice@example.com"))
    await client.cancel_case(case.id)
    with pytest.raises(Rejected):
        await client.cancel_case(case.id)
    with pytest.raises(NotFound):
        await client.cancel_case("7c1f0e4e-3b7a-4c55-9a43-2f4f8f0d9b12")


# --------------------------------------------------------------------------------------- reports


async def test_report_pending_then_complete_with_presigned_url(client: CertnClient, emu: CertnEmulator) -> None:
    case = await client.order_case(order("report@example.com"))
    report_id = await client.generate_report(case.id, language="en-CA")
    assert emu.requests[-1].json() == {"language": "en-CA"}
    first = await client.report_file(report_id)
    assert (first.status, first.pdf_url) == ("PENDING", None)
    emu.store.travel(emu.store.report_seconds + 1)
    done = await client.report_file(report_id)
    assert done.status == "COMPLETE" and done.pdf_url
    assert done.pdf_url.startswith(client.http.base_url.rstrip("/")) and "X-Amz-Signature=" in done.pdf_url
    async with httpx.AsyncClient() as plain:
        pdf = await plain.get(done.pdf_url)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


async def test_report_fails_for_the_designated_case(client: CertnClient, emu: CertnEmulator) -> None:
    report_id = await client.generate_report(REPORT_FAILS_CASE_ID)
    emu.store.travel(emu.store.report_seconds + 1)
    failed = await client.report_file(report_id)
    assert (failed.status, failed.pdf_url) == ("FAILED", None)


async def test_report_unknown_ids(client: CertnClient) -> None:
    with pytest.raises(NotFound):
        await client.generate_report("7c1f0e4e-3b7a-4c55-9a43-2f4f8f0d9b12")
    with pytest.raises(NotFound):
        await client.report_file("7c1f0e4e-3b7a-4c55-9a43-2f4f8f0d9b12")


async def test_report_file_get_is_retried(client: CertnClient, emu: CertnEmulator) -> None:
    report_id = await client.generate_report(REPORT_FAILS_CASE_ID)
    emu.inject(kind="status", status=503, times=1, path="/api/public/cases/report-files/")
    assert (await client.report_file(report_id)).status in ("PENDING", "FAILED")
    assert sum(1 for r in emu.requests if "report-files" in r.path) == 2


# ----------------------------------------------------------------------------- faults on every POST


async def _write(client: CertnClient, which: str, case_id: str) -> Any:
    if which == "order":
        return await client.order_case(order("fault@example.com"))
    if which == "package":
        return await client.order_package(
            PackageOrderRequest(email_address="fault@example.com", package=PACKAGE_BASIC_ID)
        )
    if which == "cancel":
        return await client.cancel_case(case_id)
    return await client.generate_report(case_id)


WRITES = ["order", "package", "cancel", "report"]


@pytest.fixture
async def fresh_case(client: CertnClient) -> str:
    return (await client.order_case(order("target@example.com"))).id


@pytest.mark.parametrize("which", WRITES)
@pytest.mark.parametrize(
    ("fault", "error", "maybe_sent"),
    [
        ({"kind": "status", "status": 503, "body": error_body("server_error", "error", "A server error occurred.")},
         Unavailable, True),
        ({"kind": "status", "status": 429, "headers": {"Retry-After": "7"},
          "body": error_body("client_error", "throttled", "Request was throttled.")}, RateLimited, False),
        ({"kind": "drop"}, Unavailable, True),
        ({"kind": "lose_response"}, Unavailable, True),
        ({"kind": "latency", "seconds": 0.8}, Timeout, True),
        ({"kind": "malformed"}, MalformedResponse, True),
        ({"kind": "html", "status": 502}, Unavailable, True),
    ],
)  # fmt: skip
async def test_post_faults_are_typed_never_retried_and_say_whether_sent(
    client: CertnClient,
    emu: CertnEmulator,
    fresh_case: str,
    which: str,
    fault: dict[str, Any],
    error: type,
    maybe_sent: bool,
) -> None:
    emu.reset()
    emu.inject(method="POST", **fault)
    with pytest.raises(ProviderError) as info:
        await _write(client, which, fresh_case)
    assert isinstance(info.value, error)
    assert info.value.maybe_sent is maybe_sent
    assert sum(1 for r in emu.requests if r.method == "POST") == 1  # a POST is never resent
    assert SANDBOX_API_KEY not in f"{info.value} {info.value.message} {info.value.hint}"


async def test_lost_order_response_still_created_the_case_and_can_be_found(
    client: CertnClient, emu: CertnEmulator
) -> None:
    email = "lost.answer@example.com"
    known = await client.case_ids(email)
    emu.inject(kind="lose_response", method="POST", path=ORDER)
    with pytest.raises(Unavailable) as info:
        await client.order_case(order(email))
    assert info.value.maybe_sent
    found = await client.find_new_case(
        email, known, check_types={"IDENTITY_VERIFICATION_1", "CRIMINAL_RECORD_REPORT_1"}
    )
    assert found is not None and found.email_address == email
    assert await client.find_new_case(email, [*known, found.id]) is None
    assert await client.find_new_case(email, known, check_types={"CREDIT_REPORT_1"}) is None


async def test_unreachable_service_was_not_sent() -> None:
    client = CertnClient.connect(f"http://127.0.0.1:{free_port()}", SANDBOX_API_KEY, policy=FAST)
    try:
        with pytest.raises(Unavailable) as info:
            await client.order_case(order("nowhere@example.com"))
        assert not info.value.maybe_sent
    finally:
        await client.aclose()
