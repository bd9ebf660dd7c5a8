"""The shared HTTP layer against a tiny emulator on a real loopback socket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from casebridge.providers import errors
from casebridge.providers.http import USER_AGENT, ProviderHTTP, Redactor, json_body, parse_retry_after
from casebridge.sandbox.emulation import Emulator, LoopbackServer
from tests.support import TEST_POLICY


async def echo(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True, "query": list(request.query_params.multi_items())})


@pytest.fixture(scope="module")
def tiny() -> Iterator[tuple[Emulator, str]]:
    emu = Emulator("tiny")
    app = emu.wrap(Starlette(routes=[Route("/echo", echo, methods=["GET", "POST"])]))
    server = LoopbackServer(app).start()
    yield emu, server.url
    server.stop()


@pytest.fixture
async def http(tiny: tuple[Emulator, str]) -> ProviderHTTP:
    emu, url = tiny
    emu.reset()
    return ProviderHTTP(
        "tiny", url, headers={"Authorization": "Token s3cret-value"}, secrets=["s3cret-value"], policy=TEST_POLICY
    )


async def test_get_sends_user_agent_and_repeated_keys(http: ProviderHTTP, tiny: tuple[Emulator, str]) -> None:
    emu, _ = tiny
    response = await http.get("echo", {"a": ["1", "2"], "b": True, "skip": None})
    assert response.status_code == 200
    assert response.json()["query"] == [["a", "1"], ["a", "2"], ["b", "true"]]
    assert emu.requests[-1].headers["user-agent"] == USER_AGENT


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
async def test_get_retries_transient_statuses_then_succeeds(
    http: ProviderHTTP, tiny: tuple[Emulator, str], status: int
) -> None:
    emu, _ = tiny
    emu.inject(kind="status", status=status, times=2, headers={"Retry-After": "0"} if status == 429 else {})
    response = await http.get("echo")
    assert response.status_code == 200
    assert len(emu.requests) == 3


async def test_get_gives_up_after_capped_attempts(http: ProviderHTTP, tiny: tuple[Emulator, str]) -> None:
    emu, _ = tiny
    emu.inject(kind="status", status=503, times=10)
    response = await http.get("echo")
    assert response.status_code == 503
    assert len(emu.requests) == TEST_POLICY.attempts


async def test_long_retry_after_is_returned_not_slept_on(http: ProviderHTTP, tiny: tuple[Emulator, str]) -> None:
    emu, _ = tiny
    emu.inject(kind="status", status=429, times=5, headers={"Retry-After": "120"})
    response = await http.get("echo")
    assert response.status_code == 429
    assert len(emu.requests) == 1
    assert parse_retry_after(response.headers["Retry-After"]) == 120


async def test_500_on_get_is_retried_within_the_attempts(http: ProviderHTTP, tiny: tuple[Emulator, str]) -> None:
    emu, _ = tiny
    emu.inject(kind="status", status=500, times=10)
    response = await http.get("echo")
    assert response.status_code == 500
    assert len(emu.requests) == TEST_POLICY.attempts


async def test_500_on_post_is_not_retried(http: ProviderHTTP, tiny: tuple[Emulator, str]) -> None:
    emu, _ = tiny
    emu.inject(kind="status", status=500, times=3)
    response = await http.post("echo", json={"x": 1})
    assert response.status_code == 500
    assert len(emu.requests) == 1


async def test_dropped_connections_end_in_unavailable(http: ProviderHTTP, tiny: tuple[Emulator, str]) -> None:
    emu, _ = tiny
    emu.inject(kind="drop", times=10)
    with pytest.raises(errors.Unavailable) as info:
        await http.get("echo")
    assert info.value.retryable
    assert len(emu.requests) == TEST_POLICY.attempts


async def test_dropped_connection_recovers_on_retry(http: ProviderHTTP, tiny: tuple[Emulator, str]) -> None:
    emu, _ = tiny
    emu.inject(kind="drop", times=1)
    assert (await http.get("echo")).status_code == 200


async def test_slow_provider_hits_the_deadline(http: ProviderHTTP, tiny: tuple[Emulator, str]) -> None:
    emu, _ = tiny
    emu.inject(kind="latency", seconds=TEST_POLICY.deadline + 2, times=10)
    with pytest.raises(errors.Timeout) as info:
        await http.get("echo")
    assert info.value.retryable


async def test_post_is_never_retried(http: ProviderHTTP, tiny: tuple[Emulator, str]) -> None:
    emu, _ = tiny
    emu.inject(kind="status", status=503, times=3)
    response = await http.post("echo", json={"x": 1})
    assert response.status_code == 503
    assert len(emu.requests) == 1


async def test_lost_post_response_says_it_may_have_been_sent(http: ProviderHTTP, tiny: tuple[Emulator, str]) -> None:
    emu, _ = tiny
    emu.inject(kind="lose_response", times=1)
    with pytest.raises(errors.ProviderError) as info:
        await http.post("echo", json={"x": 1})
    assert info.value.maybe_sent
    assert len(emu.requests) == 1


async def test_malformed_json_is_a_typed_error(http: ProviderHTTP, tiny: tuple[Emulator, str]) -> None:
    emu, _ = tiny
    emu.inject(kind="malformed")
    response = await http.get("echo")
    with pytest.raises(errors.MalformedResponse):
        json_body("tiny", response)


def test_redactor_removes_every_secret() -> None:
    redact = Redactor(["abcd1234", None, "xy"])
    assert redact("token abcd1234 and xy") == "token [redacted] and xy"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3", 3.0), ("0", 0.0), (" 2.5 ", 2.5), ("junk", None), (None, None), ("-4", 0.0), ("inf", None)],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected
