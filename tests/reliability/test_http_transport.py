"""The HTTP transports as an attacker on the network or in a browser would meet them.

Real server processes on loopback (sandbox data): the default bind address, DNS-rebinding checks
(foreign Host or Origin) on Streamable HTTP in both protocol eras and on SSE, the bearer token,
the refusal to bind a non-loopback address without one, and the request body limit.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from casebridge.sandbox.emulation import free_port
from casebridge.server.cli import MAX_REQUEST_BODY, parse_args
from tests.reliability.harness import CANARIES, leaks
from tests.support import PYTHON, ROOT, subprocess_env, text_of

TOKEN = CANARIES["CASEBRIDGE_HTTP_TOKEN"]
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
}
MODERN = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/list",
    "params": {
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
        }
    },
}
JSON_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
ERA_HEADERS = {"legacy": {}, "modern": {"mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list"}}


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    host: str
    port: int
    transport: str

    @property
    def base(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def endpoint(self) -> str:
        return self.base + ("/mcp" if self.transport == "http" else "/sse")


def start(transport: str, host: str | None = None, token: str | None = None) -> Served:
    port = free_port()
    args = [PYTHON, "-m", "server", "--sandbox", "--transport", transport, "--port", str(port)]
    if host:
        args += ["--host", host]
    env = subprocess_env({"CASEBRIDGE_HTTP_TOKEN": token} if token else None)
    proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    connect_to = host or "127.0.0.1"
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection((connect_to, port), timeout=0.2).close()
            return Served(proc, connect_to, port, transport)
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "server did not start") from None
            time.sleep(0.05)


def stop(served: Served) -> str:
    served.proc.send_signal(signal.SIGTERM)
    try:
        served.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        served.proc.kill()
        served.proc.wait()
    return served.proc.stderr.read().decode() if served.proc.stderr else ""


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[tuple[str, str | None, bool], Served]]:
    """Started on first use, one per (transport, host, token?), stopped at the end of the module."""
    started: dict[tuple[str, str | None, bool], Served] = {}
    yield started
    for served in started.values():
        stderr = stop(served)
        assert not leaks(stderr), "the HTTP token appeared on the server's stderr"


def server(
    servers: dict[tuple[str, str | None, bool], Served], transport: str, host: str | None = None, token: bool = False
) -> Served:
    key = (transport, host, token)
    if key not in servers:
        servers[key] = start(transport, host, TOKEN if token else None)
    return servers[key]


def post(url: str, body: Any = None, headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
    return httpx.post(url, json=body, headers={**JSON_HEADERS, **(headers or {})}, timeout=10, **kw)


# -------------------------------------------------------------------------------------- binding


def test_default_bind_address_is_loopback(servers: dict[Any, Served]) -> None:
    assert parse_args([]).host == "127.0.0.1"
    served = server(servers, "http")  # started without --host
    socket.create_connection(("127.0.0.1", served.port), timeout=2).close()
    outside = _non_loopback_address()
    if outside is None:
        pytest.skip("this machine has no non-loopback address to try")
    with pytest.raises(OSError):
        socket.create_connection((outside, served.port), timeout=2).close()


def _non_loopback_address() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent, it only picks a route
            address: str = s.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


@pytest.mark.parametrize(
    ("transport", "host"),
    [("http", "0.0.0.0"), ("http", "::"), ("http", "casebridge.example.com"), ("sse", "192.0.2.10")],
)
def test_non_loopback_bind_without_token_refuses_to_start(transport: str, host: str) -> None:
    proc = subprocess.run(
        [PYTHON, "-m", "server", "--transport", transport, "--host", host, "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env(),
        cwd=ROOT,
    )
    assert proc.returncode == 2
    assert "refusing to serve on " + host in proc.stderr
    assert "CASEBRIDGE_HTTP_TOKEN" in proc.stderr and "127.0.0.1" in proc.stderr
    assert proc.stdout == ""


# -------------------------------------------------------------------------------- DNS rebinding


# 127.0.0.2 is loopback too (no token needed), but the SDK only guards 127.0.0.1/localhost/::1 itself.
@pytest.mark.parametrize("host", [None, "127.0.0.2", "localhost"])
@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_streamable_http_refuses_foreign_host_and_origin(
    servers: dict[Any, Served], host: str | None, era: str
) -> None:
    served = server(servers, "http", host)
    url = served.endpoint
    body = INIT if era == "legacy" else MODERN
    extra = ERA_HEADERS[era]
    port = served.port

    ok = post(url, body, extra)
    assert ok.status_code == 200, ok.text

    for evil_host in (f"evil.example:{port}", "evil.example", f"127.0.0.1.evil.example:{port}"):
        refused = post(url, body, {**extra, "host": evil_host})
        assert refused.status_code == 421, (evil_host, refused.status_code, refused.text)
        assert "serverInfo" not in refused.text and "tools" not in refused.text
    for evil_origin in ("http://evil.example", f"http://evil.example:{port}", "null", "https://127.0.0.1.evil.example"):
        refused = post(url, body, {**extra, "origin": evil_origin})
        assert refused.status_code == 403, (evil_origin, refused.status_code, refused.text)
        assert "serverInfo" not in refused.text and "tools" not in refused.text
    good_origin = post(url, body, {**extra, "origin": f"http://localhost:{port}"})
    assert good_origin.status_code == 200


@pytest.mark.parametrize("host", [None, "127.0.0.2"])
def test_sse_refuses_foreign_host_and_origin(servers: dict[Any, Served], host: str | None) -> None:
    served = server(servers, "sse", host)
    port = served.port
    for headers, status in (({"host": f"evil.example:{port}"}, 421), ({"origin": "http://evil.example"}, 403)):
        with httpx.stream("GET", served.base + "/sse", headers=headers, timeout=10) as response:
            assert response.status_code == status
        posted = post(served.base + "/messages/?session_id=" + "0" * 32, INIT, headers)
        assert posted.status_code == status, posted.text
    # The same requests with our own Host are served (the stream opens).
    with httpx.stream("GET", served.base + "/sse", timeout=10) as response:
        assert response.status_code == 200


# -------------------------------------------------------------------------------- bearer token


@pytest.mark.parametrize("transport", ["http", "sse"])
def test_missing_or_wrong_token_gets_401_and_nothing_else(servers: dict[Any, Served], transport: str) -> None:
    served = server(servers, transport, token=True)
    wrong = [
        None,
        "",
        "Bearer",
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN}x",
        f"Basic {TOKEN}",
        TOKEN,
        f"Bearer {TOKEN} {TOKEN}",
        f"Bearer{TOKEN}",
        "Bearer " + "A" * 10_000,
    ]
    for auth in wrong:
        headers = {} if auth is None else {"authorization": auth}
        if transport == "http":
            responses = [post(served.endpoint, INIT, headers), httpx.get(served.endpoint, headers=headers, timeout=10)]
        else:
            responses = [
                httpx.get(served.endpoint, headers=headers, timeout=10),
                post(served.base + "/messages/", INIT, headers),
            ]
        for response in responses:
            assert response.status_code == 401, (auth and auth[:30], response.status_code)
            assert response.content == b'{"error": "unauthorized"}'
            allowed = {"content-type", "www-authenticate", "content-length", "date", "server", "x-request-id"}
            assert set(response.headers) <= allowed  # x-request-id: server.operations, for the logs
            assert not leaks(response.text + str(response.headers))
    # Even an enormous unauthenticated body is answered 401 before it is read.
    big = post(served.endpoint, {"x": "y" * (MAX_REQUEST_BODY * 3)})
    assert big.status_code == 401


async def test_right_token_is_served_in_both_eras(servers: dict[Any, Served]) -> None:
    served = server(servers, "http", token=True)
    # The scheme is case-insensitive and may be followed by more than one space (RFC 9110 §11).
    for era, auth in (("legacy", f"Bearer {TOKEN}"), ("auto", f"bearer  {TOKEN}")):
        async with (
            httpx.AsyncClient(headers={"authorization": auth}, timeout=30) as http,
            Client(streamable_http_client(served.endpoint, http_client=http), mode=era) as client,  # type: ignore[arg-type]
        ):
            result = await client.call_tool("search_cases", {"provider": "clearinghouse", "limit": 1})
            assert not result.is_error, text_of(result)
    served = server(servers, "sse", token=True)
    async with Client(sse_client(served.endpoint, headers={"authorization": f"Bearer {TOKEN}"})) as client:
        result = await client.call_tool("search_cases", {"provider": "certn", "limit": 1})
        assert not result.is_error, text_of(result)


# --------------------------------------------------------------------------------- body limits


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_oversized_request_body_is_refused(servers: dict[Any, Served], era: str) -> None:
    served = server(servers, "http")
    body: dict[str, Any] = INIT if era == "legacy" else MODERN
    huge = {**body, "params": {**body["params"], "padding": "x" * (MAX_REQUEST_BODY + 1)}}
    declared = post(served.endpoint, huge, ERA_HEADERS[era])
    assert declared.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must hold while streaming too
        yield b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"padding": "'
        for _ in range(MAX_REQUEST_BODY // 65536 + 2):
            yield b"x" * 65536
        yield b'"}}'

    streamed = httpx.post(served.endpoint, content=chunks(), headers={**JSON_HEADERS, **ERA_HEADERS[era]}, timeout=30)
    assert streamed.status_code == 413
    # A body under the limit is still served normally.
    assert post(served.endpoint, body, ERA_HEADERS[era]).status_code == 200


def test_oversized_sse_message_is_refused(servers: dict[Any, Served]) -> None:
    served = server(servers, "sse")
    huge = {**INIT, "params": {"padding": "x" * (MAX_REQUEST_BODY + 1)}}
    response = post(served.base + "/messages/?session_id=" + "0" * 32, huge)
    assert response.status_code == 413
