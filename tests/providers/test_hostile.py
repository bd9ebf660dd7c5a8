"""Each provider client against its emulator in hostile mode, on real loopback sockets.

Huge bodies and gzip bombs stop at the decoded-bytes cap, endless pages at the request budget, deep
or non-UTF-8 JSON is a malformed answer, a slow drip ends at the deadline, and no error carries the
credential in any encoding.
"""

from __future__ import annotations

import base64
import gzip
import json
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

import anyio
import anyio.lowlevel
import httpx2 as httpx
import pytest

from casebridge.providers import errors, http
from casebridge.providers.certn.client import CertnClient
from casebridge.providers.clearinghouse.client import ClearinghouseClient
from casebridge.providers.commcare.client import CommCareClient
from casebridge.providers.errors import InvalidRequest, MalformedResponse, ProviderError, Timeout, Unavailable
from casebridge.providers.http import HttpPolicy
from casebridge.sandbox.certn.app import error_body
from casebridge.sandbox.emulation import Emulator
from casebridge.sandbox.faults import gzip_bomb, hostile_text
from tests.reliability.harness import CANARIES, PROVIDERS, CanaryEmulators
from tests.support import FAST_POLICY

MiB = 1024 * 1024
POLICY = replace(FAST_POLICY, max_body_bytes=MiB)
SECRET = {
    "clearinghouse": CANARIES["CLEARINGHOUSE_API_TOKEN"],
    "commcare": CANARIES["COMMCARE_API_KEY"],
    "certn": CANARIES["CERTN_API_KEY"],
}
ENDLESS_PATH = {"clearinghouse": "/api/v2p1/cases/", "commcare": "/a/d/api/case/v2/", "certn": "/api/public/cases/"}


class CountingTransport(httpx.AsyncBaseTransport):
    """A real HTTP transport that counts the body bytes the client pulled off the socket."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.read = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Counted(response.stream, self),  # type: ignore[arg-type]
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


class _Counted(httpx.AsyncByteStream):
    def __init__(self, stream: Any, owner: CountingTransport) -> None:
        self.stream, self.owner = stream, owner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.stream:
            self.owner.read += len(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self.stream.aclose()


@dataclass
class Target:
    """One provider's client with a list call, a call that follows its own next page, and its emulator."""

    provider: str
    client: Any
    emulator: Emulator
    first: Callable[[], Awaitable[Any]]
    follow: Callable[[Any, int], Awaitable[Any]]  # (previous page, page number) -> next page

    @property
    def secret(self) -> str:
        return SECRET[self.provider]


@pytest.fixture(scope="module")
def emus() -> Iterator[CanaryEmulators]:
    emulators = CanaryEmulators().start()
    yield emulators
    emulators.stop()


def connect(emus: CanaryEmulators, provider: str, policy: HttpPolicy, transport: Any = None) -> Target:
    url = emus.servers[provider].url
    emulator = emus[provider]
    if provider == "clearinghouse":
        ch = ClearinghouseClient.connect(f"{url}/api/v2p1", SECRET[provider], policy=policy, transport=transport)
        return Target(provider, ch, emulator, lambda: ch.search({}), lambda p, _: ch.search({}, cursor=p.next_cursor))
    if provider == "commcare":
        from casebridge.sandbox.commcare.app import SANDBOX_DOMAIN, SANDBOX_USERNAME

        cc = CommCareClient.connect(
            url, SANDBOX_USERNAME, SECRET[provider], SANDBOX_DOMAIN, policy=policy, transport=transport
        )
        return Target(
            provider, cc, emulator, lambda: cc.list_cases_v2({}), lambda p, _: cc.list_cases_v2(cursor=p.cursor)
        )
    ce = CertnClient.connect(url, SECRET[provider], policy=policy, transport=transport)
    return Target(provider, ce, emulator, lambda: ce.list_cases(), lambda _, n: ce.list_cases(page=n))


@pytest.fixture(params=PROVIDERS)
async def target(request: pytest.FixtureRequest, emus: CanaryEmulators) -> AsyncIterator[Target]:
    emus.reset()
    made = connect(emus, request.param, POLICY)
    yield made
    await made.client.aclose()
    emus.reset()


def secret_forms(secret: str) -> list[str]:
    raw = secret.encode()
    return [
        secret,
        secret.upper(),
        secret.lower(),
        quote(secret, safe=""),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        raw.hex(),
        secret[2:12],
        secret[-9:],
    ]


def assert_scrubbed(err: ProviderError, secret: str) -> None:
    texts = " ".join(t for t in (err.message, err.field or "", err.hint or "", str(err)) if t)
    found = [f for f in secret_forms(secret) if f.lower() in texts.lower()]
    assert not found, f"{found} in {texts!r}"


# ------------------------------------------------------------------------------------- size cap


async def test_huge_body_stops_at_the_cap(emus: CanaryEmulators, provider: str) -> None:
    counter = CountingTransport()
    target = connect(emus, provider, POLICY, transport=counter)
    emus.reset()
    target.emulator.inject(kind="huge", size=64 * MiB)
    try:
        with pytest.raises(errors.ResponseTooLarge) as info:
            await target.first()
    finally:
        await target.client.aclose()
    assert info.value.category == "malformed_response" and not info.value.retryable
    assert "larger than 1 MiB" in info.value.message and info.value.hint
    assert counter.read < 2 * MiB  # the rest of the 64 MiB was never read
    assert len(target.emulator.requests) == 1  # an answer too large is not asked for again


async def test_default_cap_is_8_mib(emus: CanaryEmulators, provider: str) -> None:
    target = connect(emus, provider, replace(FAST_POLICY, max_body_bytes=HttpPolicy().max_body_bytes))
    emus.reset()
    target.emulator.inject(kind="huge", size=9 * MiB)
    try:
        with pytest.raises(errors.ResponseTooLarge, match="larger than 8 MiB"):
            await target.first()
    finally:
        await target.client.aclose()


async def test_gzip_bomb_is_inflated_in_bounded_steps(target: Target) -> None:
    """256 MiB inflated from ~250 kB: refused after 1 MiB, with bounded memory, yielding as it goes."""
    gzip_bomb(256 * MiB)  # made (and cached) before memory is traced
    target.emulator.inject(kind="gzip_bomb", size=256 * MiB, times=9)
    ticks = 0
    done = False

    async def ticker() -> None:
        nonlocal ticks
        while not done:
            ticks += 1
            await anyio.lowlevel.checkpoint()

    tracemalloc.start()
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(ticker)
            try:
                with pytest.raises(errors.ResponseTooLarge):
                    await target.first()
            finally:
                done = True
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * MiB, f"peak {peak / MiB:.0f} MiB while reading a gzip bomb"
    # At most 64 KiB is inflated between two turns of the event loop: 1 MiB gives other tasks >= 16.
    assert ticks >= 16


async def test_corrupt_gzip_is_malformed(target: Target) -> None:
    target.emulator.inject(kind="status", status=200, body=b"not gzip at all", headers={"content-encoding": "gzip"})
    with pytest.raises(MalformedResponse, match="could not be decompressed"):
        await target.first()


async def test_unasked_encoding_is_malformed(target: Target) -> None:
    target.emulator.inject(kind="status", status=200, body=b"\x00\x01", headers={"content-encoding": "br"})
    with pytest.raises(MalformedResponse, match="content encoding"):
        await target.first()


async def test_gzip_answer_within_the_cap_is_read(target: Target) -> None:
    page = target.emulator.endless_page(ENDLESS_PATH[target.provider], [])  # type: ignore[misc]
    body = gzip.compress(json.dumps(page).encode())
    headers = {"content-encoding": "gzip", "content-type": "application/json"}
    target.emulator.inject(kind="status", status=200, body=body, headers=headers)
    assert await target.first() is not None


# ------------------------------------------------------------------------------ request budget


async def test_endless_pages_stop_at_the_request_budget(target: Target) -> None:
    target.emulator.inject(kind="endless_pages", times=999)
    pages = 0
    with http.request_budget(5) as budget, pytest.raises(errors.RequestBudgetSpent) as info:
        page = await target.first()
        pages = 1
        while True:
            page = await target.follow(page, pages + 1)
            pages += 1
    assert pages == 5 and budget.used == 5
    assert len(target.emulator.requests) == 5
    assert f"more than 5 requests to {target.provider}" in info.value.message
    assert info.value.category == "provider_rejected" and not info.value.retryable


async def test_retries_are_charged_to_the_budget(target: Target) -> None:
    target.emulator.inject(kind="status", status=503, times=99)
    with http.request_budget(2), pytest.raises(errors.RequestBudgetSpent):
        await target.first()
    assert len(target.emulator.requests) == 2  # the policy would have made 3 attempts


async def test_concurrent_requests_share_one_budget(target: Target) -> None:
    failures: list[BaseException] = []

    async def one() -> None:
        try:
            await target.first()
        except errors.RequestBudgetSpent as exc:
            failures.append(exc)

    with http.request_budget(3):
        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(one)
    assert len(failures) == 2 and len(target.emulator.requests) == 3


async def test_no_budget_outside_a_block(target: Target) -> None:
    with http.request_budget(1):
        await target.first()
    await target.first()  # the block's budget ended with it
    assert len(target.emulator.requests) == 2


async def test_certn_empty_page_with_next_ends_the_listing(emus: CanaryEmulators) -> None:
    target = connect(emus, "certn", POLICY)
    emus.reset()
    target.emulator.inject(kind="endless_pages", times=999)
    try:
        page = await target.first()
        assert not page.has_next and page.results == []
        ids = await target.client.case_ids("jane@example.org", pages=50)
    finally:
        await target.client.aclose()
    assert ids == []
    assert len(target.emulator.requests) == 2  # one page each, not 1 + 50


# ------------------------------------------------------------------------ hostile JSON bodies


@pytest.mark.parametrize("levels", [100_000, 500])
async def test_deep_json_is_malformed(target: Target, levels: int) -> None:
    target.emulator.inject(kind="deep_json", size=levels)
    with pytest.raises(MalformedResponse, match="nested"):
        await target.first()


@pytest.mark.parametrize("status", [400, 404, 500])
async def test_deep_json_error_body_is_a_typed_error(target: Target, status: int) -> None:
    target.emulator.inject(kind="status", status=status, times=9, body=b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(ProviderError):
        await target.first()


async def test_invalid_utf8_is_malformed(target: Target) -> None:
    target.emulator.inject(kind="invalid_utf8")
    with pytest.raises(MalformedResponse, match="UTF-8"):
        await target.first()


@pytest.mark.parametrize("status", [400, 404, 500])
async def test_invalid_utf8_error_body_is_a_typed_error(target: Target, status: int) -> None:
    target.emulator.inject(kind="status", status=status, times=9, body=b'{"detail": "\xff\xfe", "error": "\xc3("}')
    with pytest.raises(ProviderError):
        await target.first()


async def test_slow_drip_ends_in_a_timeout(emus: CanaryEmulators, provider: str) -> None:
    # Each byte comes well inside the read timeout; only the call's deadline can end it.
    policy = replace(POLICY, read_timeout=5.0, deadline=1.0)
    target = connect(emus, provider, policy)
    emus.reset()
    target.emulator.inject(kind="slow_drip", seconds=0.05, times=9)
    try:
        with pytest.raises(Timeout) as info:
            await target.first()
    finally:
        await target.client.aclose()
    assert info.value.retryable


async def test_injected_answer_parses_or_is_malformed(target: Target) -> None:
    target.emulator.inject(kind="inject", body=hostile_text(target.secret))
    try:
        await target.first()
    except MalformedResponse as err:
        assert_scrubbed(err, target.secret)


# ---------------------------------------------------------------------------------- 500 retries


async def test_one_500_on_a_get_is_retried(target: Target) -> None:
    target.emulator.inject(kind="status", status=500)
    await target.first()
    assert len(target.emulator.requests) == 2


async def test_500_on_a_post_is_not_retried(emus: CanaryEmulators) -> None:
    target = connect(emus, "certn", POLICY)
    emus.reset()
    target.emulator.inject(kind="status", status=500, times=9, method="POST")
    try:
        with pytest.raises(Unavailable) as info:
            await target.client.cancel_case("00000000-0000-4000-8000-000000000000")
    finally:
        await target.client.aclose()
    assert info.value.maybe_sent
    assert len(target.emulator.requests) == 1


# ------------------------------------------------------------------------------------ redaction


def echo_body(provider: str, status: int, said: str) -> Any:
    if provider == "certn":
        body = error_body("validation_error" if status == 400 else "client_error", "invalid", said, attr=said)
        return body
    if provider == "commcare":
        return {"error": said}
    return [said] if status == 400 else {"detail": said}


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 500])
async def test_errors_carry_no_encoding_of_the_secret(target: Target, status: int) -> None:
    said = hostile_text(target.secret)
    target.emulator.inject(kind="status", status=status, times=9, body=echo_body(target.provider, status, said))
    with pytest.raises(ProviderError) as info:
        await target.first()
    assert_scrubbed(info.value, target.secret)


async def test_certn_attr_is_redacted(emus: CanaryEmulators) -> None:
    target = connect(emus, "certn", POLICY)
    emus.reset()
    key = target.secret
    body = error_body("validation_error", "invalid", "Bad value.", attr=f"Api-Key {key}")
    target.emulator.inject(kind="status", status=400, body=body)
    try:
        with pytest.raises(InvalidRequest) as info:
            await target.first()
    finally:
        await target.client.aclose()
    assert info.value.field == "Api-Key [redacted]"
    assert_scrubbed(info.value, key)


@pytest.fixture(params=PROVIDERS)
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)
