"""The keep-alive stack and the hot GET (providers/http_pool.py) behave like httpx2's client path.

Every behaviour test runs twice over real loopback sockets: the default ``ProviderHTTP`` (GETs on the
hot path, our keep-alive stack) and one given httpx2's own transport (the client path throughout).
"""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator, Iterator

import anyio
import httpx2 as httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from casebridge.providers import errors
from casebridge.providers.http import HttpPolicy, ProviderHTTP
from casebridge.providers.http_pool import KeepAliveTransport
from casebridge.sandbox.emulation import Emulator, LoopbackServer
from tests.support import TEST_POLICY

PEERS: list[int] = []  # client port of every request the app answered, in order


async def echo(request: Request) -> JSONResponse:
    assert request.client is not None
    PEERS.append(request.client.port)
    return JSONResponse({"query": list(request.query_params.multi_items()), "cookie": request.headers.get("cookie")})


async def slow(request: Request) -> JSONResponse:
    await anyio.sleep(float(request.query_params.get("s", "0.2")))
    return await echo(request)


async def close(request: Request) -> Response:
    await echo(request)
    return Response(b"{}", media_type="application/json", headers={"Connection": "close"})


async def cookie(request: Request) -> Response:
    response = Response(b"{}", media_type="application/json")
    response.set_cookie("session", "abc", path="/")
    return response


async def zipped(request: Request) -> Response:
    return Response(gzip.compress(b'{"a": "' + b"x" * 5000 + b'"}'), headers={"content-encoding": "gzip"})


async def big(request: Request) -> Response:
    return Response(b'{"a": "' + b"x" * 5000 + b'"}', media_type="application/json")


ROUTES = [("/echo", echo), ("/slow", slow), ("/close", close), ("/cookie", cookie), ("/zip", zipped), ("/big", big)]


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[Emulator, str]]:
    emu = Emulator("pool")
    app = emu.wrap(Starlette(routes=[Route("/base" + path, fn, methods=["GET", "POST"]) for path, fn in ROUTES]))
    server = LoopbackServer(app).start()
    yield emu, server.url + "/base"
    server.stop()


@pytest.fixture(params=["hot", "client"])
async def http(request: pytest.FixtureRequest, site: tuple[Emulator, str]) -> AsyncIterator[ProviderHTTP]:
    emu, url = site
    emu.reset()
    PEERS.clear()
    transport = None if request.param == "hot" else httpx.AsyncHTTPTransport()
    client = ProviderHTTP(
        "pool",
        url,
        headers={"Authorization": "Token s3cret-value"},
        secrets=["s3cret-value"],
        policy=TEST_POLICY,
        transport=transport,
    )
    yield client
    await client.aclose()


async def _pair(site: tuple[Emulator, str], policy: HttpPolicy = TEST_POLICY) -> tuple[ProviderHTTP, ProviderHTTP]:
    emu, url = site
    emu.reset()
    headers = {"Authorization": "Token s3cret-value"}
    hot = ProviderHTTP("pool", url, headers=headers, policy=policy)
    slow_path = ProviderHTTP("pool", url, headers=headers, policy=policy, transport=httpx.AsyncHTTPTransport())
    return hot, slow_path


async def test_the_hot_get_sends_what_the_client_path_sends(site: tuple[Emulator, str]) -> None:
    emu, url = site
    hot, client = await _pair(site)
    params = {"q": "é/+&=?#% x", "many": ["1", "2"], "flag": False, "none": None, "n": 3}
    sent = []
    for http in (hot, client):
        for path in ("echo", "/echo", f"{url}/echo", "echo?x=1"):
            emu.reset()
            response = await http.get(path, params)
            sent.append((emu.requests[-1].path, emu.requests[-1].query, emu.requests[-1].headers, response.json()))
            assert str(response.request.url).startswith(url)
        await http.aclose()
    assert hot._hot is not None and client._hot is None
    assert sent[:4] == sent[4:]


async def test_the_hot_response_is_the_client_paths(site: tuple[Emulator, str]) -> None:
    hot, client = await _pair(site)
    answers = [await http.get(path) for http in (hot, client) for path in ("zip", "big")]
    for a, b in zip(answers[:2], answers[2:], strict=True):
        assert (a.status_code, a.content) == (b.status_code, b.content)
        assert [h for h in a.headers.multi_items() if h[0] != "date"] == [
            h for h in b.headers.multi_items() if h[0] != "date"
        ]
        assert a.json() == b.json() and a.http_version == b.http_version and a.reason_phrase == b.reason_phrase
        assert str(a.request.url) == str(b.request.url)
    assert "content-encoding" not in answers[0].headers
    for http in (hot, client):
        await http.aclose()


async def test_one_connection_serves_sequential_calls(http: ProviderHTTP) -> None:
    for _ in range(5):
        await http.get("echo")
    assert len(set(PEERS)) == 1


async def test_a_burst_reopens_nothing_the_next_time(http: ProviderHTTP) -> None:
    async def burst() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(30):
                tg.start_soon(http.get, "slow", {"s": 0.05})

    await burst()
    first = set(PEERS)
    PEERS.clear()
    await burst()
    if http._hot is not None:  # httpx2's pool keeps 20 alive: the other 10 reconnect
        assert set(PEERS) <= first and len(first) == 30


async def test_connections_are_capped_and_queue(site: tuple[Emulator, str]) -> None:
    _, url = site
    PEERS.clear()
    http = ProviderHTTP("pool", url, policy=HttpPolicy(max_connections=3, deadline=10))
    async with anyio.create_task_group() as tg:
        for _ in range(9):
            tg.start_soon(http.get, "slow", {"s": 0.05})
    assert len(PEERS) == 9 and len(set(PEERS)) == 3
    await http.aclose()


async def test_waiting_for_a_connection_is_bounded_by_the_pool_timeout(site: tuple[Emulator, str]) -> None:
    _, url = site
    transport = KeepAliveTransport(max_connections=1)
    async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5, pool=0.05)) as client:
        results: list[object] = []

        async def one() -> None:
            try:
                results.append((await client.get(f"{url}/slow", params={"s": 0.5})).status_code)
            except httpx.PoolTimeout as exc:
                results.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(one)
            await anyio.sleep(0.05)
            tg.start_soon(one)
        assert results[0] == 200 or results[1] == 200
        assert any(isinstance(r, httpx.PoolTimeout) for r in results)
        assert (await client.get(f"{url}/echo")).status_code == 200  # the slot came back


async def test_cancelled_waiters_give_their_turn_on(site: tuple[Emulator, str]) -> None:
    _, url = site
    transport = KeepAliveTransport(max_connections=1)
    async with httpx.AsyncClient(transport=transport) as client:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.get, f"{url}/slow?s=0.2")
            await anyio.sleep(0.02)
            with anyio.move_on_after(0.05):
                await client.get(f"{url}/echo")  # waits for the one connection, then gives up
        assert (await client.get(f"{url}/echo")).status_code == 200
        assert transport.idle_connections == 1


async def test_a_connection_the_server_closes_is_not_reused(http: ProviderHTTP) -> None:
    await http.get("close")
    await http.get("echo")
    assert len(set(PEERS)) == 2


async def test_expired_connections_are_closed_not_reused(site: tuple[Emulator, str]) -> None:
    _, url = site
    PEERS.clear()
    transport = KeepAliveTransport(keepalive_expiry=0.0)
    async with httpx.AsyncClient(transport=transport) as client:
        for _ in range(3):
            await client.get(f"{url}/echo")
            await anyio.sleep(0.01)
        assert transport.idle_connections == 1
    assert len(set(PEERS)) == 3


async def test_cookies_are_kept_as_the_client_keeps_them(http: ProviderHTTP) -> None:
    await http.get("cookie")
    assert (await http.get("echo")).json()["cookie"] == "session=abc"


async def test_retries_and_giving_up_are_the_same(http: ProviderHTTP, site: tuple[Emulator, str]) -> None:
    emu, _ = site
    emu.inject(kind="status", status=503, times=2)
    assert (await http.get("echo")).status_code == 200
    assert len(emu.requests) == 3
    emu.reset()
    emu.inject(kind="drop", times=10)
    with pytest.raises(errors.Unavailable):
        await http.get("echo")
    assert len(emu.requests) == TEST_POLICY.attempts


async def test_timeouts_are_the_same(http: ProviderHTTP, site: tuple[Emulator, str]) -> None:
    emu, _ = site
    emu.inject(kind="slow_drip", times=10)
    with pytest.raises(errors.Timeout):
        await http.get("echo")


async def test_the_body_cap_is_the_same(site: tuple[Emulator, str]) -> None:
    for http in await _pair(site, HttpPolicy(max_body_bytes=1000)):
        for path in ("big", "zip"):
            with pytest.raises(errors.ResponseTooLarge) as info:
                await http.get(path)
            assert info.value.status == 200
        assert (await http.get("echo")).status_code == 200  # the connection came back to the stack
        await http.aclose()


async def test_a_refused_connection_is_unavailable_without_the_secret(http: ProviderHTTP) -> None:
    dead = ProviderHTTP("pool", "http://127.0.0.1:9/s3cret-value", secrets=["s3cret-value"], policy=TEST_POLICY)
    with pytest.raises(errors.Unavailable) as info:
        await dead.get("echo")
    assert "s3cret-value" not in str(info.value)
    await dead.aclose()


async def test_a_proxy_from_the_environment_is_honoured(
    site: tuple[Emulator, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = site
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    http = ProviderHTTP("pool", url, policy=TEST_POLICY)
    with pytest.raises(errors.Unavailable):  # sent to the (closed) proxy, not straight to the site
        await http.get("echo")
    assert http._hot is None
    await http.aclose()


async def test_a_closed_client_refuses_requests(http: ProviderHTTP) -> None:
    await http.get("echo")
    await http.aclose()
    with pytest.raises(RuntimeError):
        await http.get("echo")


async def test_the_hot_response_knows_its_request_as_the_client_paths_does(http: ProviderHTTP) -> None:
    response = await http.get("echo", {"q": "1"})
    response.raise_for_status()
    assert response.request.url.params["q"] == "1" and response.request.method == "GET"
    assert response.request.headers["authorization"] == "Token s3cret-value"
