"""casebridge as an OAuth 2.1 resource server: a real server process on loopback, a real issuer's JWKS.

The server runs against the emulators on loopback (so its ledger is a real file the test reads);
tokens are JWTs signed by keys the test owns (tests.server.oauth_support).
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from casebridge.sandbox.emulation import free_port
from casebridge.server.ledger import OrderLedger
from tests.server.oauth_support import Issuer
from tests.support import PYTHON, ROOT, Emulators, subprocess_env, text_of

WRITE_TOOLS = {"order_case", "cancel_case", "generate_report", "update_case"}
ORDER = {
    "applicant": {"email": "jane.roe@example.org", "given_name": "Jane", "family_name": "Roe"},
    "invite": "email_invite",
    "check_types": ["IDENTITY_VERIFICATION_1"],
}
MODERN_LIST = {
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
HEADERS = {
    "content-type": "application/json",
    "accept": "application/json, text/event-stream",
    "mcp-protocol-version": "2026-07-28",
    "mcp-method": "tools/list",
}


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    base: str
    data_dir: Path

    @property
    def resource(self) -> str:
        return self.base + "/mcp"


def start_server(issuer: Issuer, emulators: Emulators, data_dir: Path, transport: str = "http") -> Served:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = subprocess_env(
        emulators.env(
            CASEBRIDGE_OAUTH_ISSUER=issuer.url,
            CASEBRIDGE_RESOURCE_URL=base + "/mcp",
            CASEBRIDGE_DATA_DIR=str(data_dir),
            CASEBRIDGE_LOG_FORMAT="json",
        )
    )
    args = [PYTHON, "-m", "server", "--transport", transport, "--port", str(port), "--log-level", "INFO"]
    proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return Served(proc, base, data_dir)
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "no start") from None
            time.sleep(0.05)


def stop_server(served: Served) -> str:
    served.proc.terminate()
    try:
        served.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        served.proc.kill()
        served.proc.wait()
    return served.proc.stderr.read().decode() if served.proc.stderr else ""


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    served = Issuer().start()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def served(issuer: Issuer, emulators: Emulators, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = start_server(issuer, emulators, tmp_path_factory.mktemp("oauth-ledger"))
    yield server
    stderr = stop_server(server)
    assert "eyJ" not in stderr, "a bearer token reached the server's log"
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    calls = [line for line in lines if line["message"] == "tools/call order_case"]
    assert {line["caller"] for line in calls} >= {"alice via claude", "bob via claude"}
    assert all(line["request_id"] for line in calls)


def post(served: Served, token: str | None, body: Any = MODERN_LIST) -> httpx.Response:
    headers = dict(HEADERS) if token is None else {**HEADERS, "authorization": f"Bearer {token}"}
    return httpx.post(served.resource, json=body, headers=headers, timeout=30)


def test_metadata_names_this_resource_its_issuer_and_both_scopes(served: Served, issuer: Issuer) -> None:
    for path in ("/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"):
        response = httpx.get(served.base + path, timeout=10)
        assert response.status_code == 200, path
        metadata = response.json()
        assert metadata["resource"] == served.resource
        assert metadata["authorization_servers"] == [issuer.url]
        assert metadata["scopes_supported"] == ["cases:read", "cases:write"]


def test_no_token_or_a_bad_one_is_401_pointing_at_the_metadata(served: Served, issuer: Issuer) -> None:
    now = int(time.time())
    bad = [
        None,
        "not-a-jwt",
        issuer.token("https://elsewhere.example.org/mcp"),  # another resource's token: no passthrough
        issuer.token(served.base + "/other"),
        issuer.token(served.resource, iss="https://evil.example.org"),
        issuer.token(served.resource, iat=now - 3600, exp=now - 600),
    ]
    for token in bad:
        response = post(served, token)
        assert response.status_code == 401
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith("Bearer ")
        assert f'resource_metadata="{served.base}/.well-known/oauth-protected-resource/mcp"' in challenge


def test_a_token_without_the_read_scope_is_403_insufficient_scope(served: Served, issuer: Issuer) -> None:
    response = post(served, issuer.token(served.resource, scope="cases:write"))
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


def tools_of(response: httpx.Response) -> set[str]:
    text = response.text
    payload = json.loads(text.split("data: ", 1)[1].splitlines()[0] if text.startswith(("event:", "data:")) else text)
    return {tool["name"] for tool in payload["result"]["tools"]}


def test_read_only_scope_is_not_offered_the_write_tools(served: Served, issuer: Issuer) -> None:
    assert tools_of(post(served, issuer.token(served.resource, scope="cases:read"))) == {"search_cases", "get_case"}
    everything = tools_of(post(served, issuer.token(served.resource, scope="cases:read cases:write")))
    assert everything >= WRITE_TOOLS


@pytest.fixture(params=["legacy", "auto"])
def era(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def connect(served: Served, token: str, era: str) -> AsyncIterator[Client]:
    async with (
        httpx.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=30) as http,
        Client(streamable_http_client(served.resource, http_client=http), mode=era) as client,  # type: ignore[arg-type]
    ):
        yield client


async def test_read_only_scope_cannot_call_a_write_tool(served: Served, issuer: Issuer, era: str) -> None:
    async for client in connect(served, issuer.token(served.resource, scope="cases:read"), era):
        listed = {tool.name for tool in (await client.list_tools()).tools}
        assert listed == {"search_cases", "get_case"}
        result = await client.call_tool("order_case", ORDER)
        assert result.is_error
        assert "insufficient_scope" in text_of(result) and "cases:write" in text_of(result)
        change = {"changes": [{"action": "update", "case_id": "2fd2b0a3-5c1c-4d2b-9ab3-6e4f9c8d1a77", "close": True}]}
        refused = await client.call_tool("update_case", change)
        assert refused.is_error and "cases:write" in text_of(refused)
        assert (await client.call_tool("search_cases", {"provider": "certn", "limit": 1})).is_error is False


async def test_one_callers_confirmation_cannot_place_anothers_order(served: Served, issuer: Issuer, era: str) -> None:
    order = {**ORDER, "applicant": {**ORDER["applicant"], "email": f"two.callers.{era}@example.org"}}
    alice = issuer.token(served.resource, sub="alice")
    bob = issuer.token(served.resource, sub="bob")
    async for client in connect(served, alice, era):
        quote = await client.call_tool("order_case", order)
        assert quote.structured_content is not None
        token = quote.structured_content["confirmation_token"]
    async for client in connect(served, bob, era):
        stolen = await client.call_tool("order_case", {**order, "confirmation_token": token})
        assert stolen.is_error and "Nothing was ordered" in text_of(stolen)
    async for client in connect(served, alice, era):
        placed = await client.call_tool("order_case", {**order, "confirmation_token": token})
        assert not placed.is_error, text_of(placed)
        assert placed.structured_content is not None and placed.structured_content["status"] == "ordered"
    rows = [
        r
        for r in OrderLedger(served.data_dir).recent(50)
        if r.entry.request.get("email") == order["applicant"]["email"]
    ]
    by_outcome = {(r.entry.outcome, r.entry.caller) for r in rows}
    assert ("quoted", "alice via claude") in by_outcome
    assert ("not_confirmed", "bob via claude") in by_outcome
    assert ("ordered", "alice via claude") in by_outcome


async def test_sse_transport(issuer: Issuer, emulators: Emulators, tmp_path: Path) -> None:
    server = start_server(issuer, emulators, tmp_path, "sse")
    try:
        response = httpx.get(server.base + "/sse", timeout=10)
        assert response.status_code == 401
        assert "resource_metadata=" in response.headers["www-authenticate"]
        token = issuer.token(server.resource, scope="cases:read")
        async with Client(sse_client(server.base + "/sse", headers={"authorization": f"Bearer {token}"})) as client:
            assert {tool.name for tool in (await client.list_tools()).tools} == {"search_cases", "get_case"}
    finally:
        stop_server(server)
