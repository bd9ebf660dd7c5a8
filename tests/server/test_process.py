"""The real process: stdio subprocess, Streamable HTTP and SSE on loopback, CLI behaviour."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client

from casebridge.sandbox.emulation import free_port
from tests.support import PYTHON, ROOT, Emulators, subprocess_env, text_of

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
}


def run_cli(
    *args: str, env: dict[str, str] | None = None, stdin: str = "", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "server", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=subprocess_env(env),
        cwd=ROOT,
    )


def stdio_exchange(requests: list[dict[str, Any]], env: dict[str, str] | None = None) -> tuple[dict[int, Any], str]:
    """Send ``requests`` to a stdio server, read one answer per request id, then close stdin.

    Returns the answers by id and stderr; asserts every stdout line is a JSON-RPC message and
    that the process exits 0 on EOF with nothing more on stdout.
    """
    proc = subprocess.Popen(
        [PYTHON, "-m", "server"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=subprocess_env(env),
        cwd=ROOT,
    )
    assert proc.stdin and proc.stdout and proc.stderr
    proc.stdin.write("".join(json.dumps(r) + "\n" for r in requests).encode())
    proc.stdin.flush()
    expected = sum(1 for r in requests if "id" in r)
    by_id: dict[int, Any] = {}
    while len(by_id) < expected:
        line = proc.stdout.readline()
        assert line, "server closed stdout early"
        message = json.loads(line)  # every stdout line is one JSON-RPC message
        assert message["jsonrpc"] == "2.0"
        by_id[message["id"]] = message
    proc.stdin.close()  # EOF: the server must exit cleanly and promptly
    assert proc.wait(timeout=10) == 0
    assert proc.stdout.read() == b""
    return by_id, proc.stderr.read().decode()


def test_version_and_help() -> None:
    version = run_cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("casebridge ")
    help_ = run_cli("--help")
    for flag in ("--transport", "--host", "--port", "--sandbox", "--read-only", "--version"):
        assert flag in help_.stdout


def test_stdio_stdout_carries_only_jsonrpc_and_exits_on_eof(emulators: Emulators) -> None:
    by_id, _ = stdio_exchange(
        [
            INIT,
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
            {
                "jsonrpc": "2.0",
                "id": 3,
                "method": "tools/call",
                "params": {"name": "search_cases", "arguments": {"provider": "clearinghouse", "limit": 2}},
            },
        ],
        emulators.env(),
    )
    assert {t["name"] for t in by_id[2]["result"]["tools"]} >= {"search_cases", "get_case"}
    assert not by_id[3]["result"].get("isError"), by_id[3]


def test_no_provider_configured_still_starts_and_explains() -> None:
    by_id, stderr = stdio_exchange(
        [
            INIT,
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": "search_cases", "arguments": {"provider": "commcare"}},
            },
        ]
    )
    result = by_id[2]["result"]
    assert result["isError"]
    assert "COMMCARE_API_KEY" in result["content"][0]["text"]
    assert "no provider is configured" in stderr


def test_half_set_provider_is_named_on_stderr() -> None:
    proc = run_cli(env={"CERTN_BASE_URL": "http://127.0.0.1:9"}, stdin="")
    assert proc.returncode == 0
    lines = [line for line in proc.stderr.splitlines() if "certn" in line]
    assert len(lines) == 1 and "CERTN_API_KEY" in lines[0]
    assert proc.stdout == ""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stdio_exits_cleanly_on_signal(sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [PYTHON, "-m", "server", "--sandbox"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=subprocess_env(),
        cwd=ROOT,
    )
    assert proc.stdin and proc.stdout
    proc.stdin.write((json.dumps(INIT) + "\n").encode())
    proc.stdin.flush()
    assert json.loads(proc.stdout.readline())["id"] == 1  # it is up and answering
    proc.send_signal(sig)
    assert proc.wait(timeout=10) == 0


async def test_stdio_client_both_eras(emulators: Emulators, era: str) -> None:
    params = StdioServerParameters(
        command=PYTHON, args=["-m", "server"], env=subprocess_env(emulators.env()), cwd=str(ROOT)
    )
    async with Client(params, mode=era) as client:  # type: ignore[arg-type]
        result = await client.call_tool("search_cases", {"provider": "certn", "limit": 3})
        assert not result.is_error, text_of(result)
        assert len(result.structured_content["cases"]) == 3  # type: ignore[index]


@pytest.fixture
def http_server(emulators: Emulators, request: pytest.FixtureRequest) -> Iterator[str]:
    transport = request.param
    port = free_port()
    proc = subprocess.Popen(
        [PYTHON, "-m", "server", "--transport", transport, "--port", str(port)],
        env=subprocess_env(emulators.env()),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    import socket

    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.05)
    yield base
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0


@pytest.mark.parametrize("http_server", ["http"], indirect=True)
async def test_streamable_http_both_eras(http_server: str, era: str) -> None:
    async with Client(http_server + "/mcp", mode=era) as client:  # type: ignore[arg-type]
        tools = await client.list_tools()
        assert "search_cases" in {t.name for t in tools.tools}
        result = await client.call_tool("search_cases", {"provider": "commcare", "limit": 2})
        assert not result.is_error, text_of(result)


@pytest.mark.parametrize("http_server", ["sse"], indirect=True)
async def test_sse_both_eras(http_server: str, era: str) -> None:
    async with Client(sse_client(http_server + "/sse"), mode=era) as client:  # type: ignore[arg-type]
        result = await client.call_tool("get_case", {"ref": "clearinghouse:notanumber"})
        assert result.is_error
        assert "positive integer" in text_of(result)


def test_non_loopback_bind_without_token_refuses_to_start() -> None:
    proc = run_cli("--transport", "http", "--host", "0.0.0.0", "--port", str(free_port()))
    assert proc.returncode == 2
    assert "CASEBRIDGE_HTTP_TOKEN" in proc.stderr


def test_sandbox_command_serves_the_three_emulators_on_loopback() -> None:
    import httpx2 as httpx

    from casebridge.sandbox.certn import app as certn
    from casebridge.sandbox.clearinghouse import app as clearinghouse
    from casebridge.sandbox.commcare import app as commcare

    port = free_port()
    proc = subprocess.Popen(
        [PYTHON, "-m", "server", "sandbox", "--port", str(port)],
        env=subprocess_env(),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
        with httpx.Client(base_url=base, timeout=10) as http:
            ch = http.get("/api/v2p1/cases/", headers={"Authorization": f"Token {clearinghouse.SANDBOX_TOKEN}"})
            assert ch.status_code == 200 and ch.json()["results"]
            cc = http.get(
                f"/a/{commcare.SANDBOX_DOMAIN}/api/case/v2/",
                headers={"Authorization": f"ApiKey {commcare.SANDBOX_USERNAME}:{commcare.SANDBOX_API_KEY}"},
            )
            assert cc.status_code == 200 and cc.json()["cases"]
            ce = http.get("/api/public/cases/", headers={"Authorization": f"Api-Key {certn.SANDBOX_API_KEY}"})
            assert ce.status_code == 200 and ce.json()["results"]
            # Faults are steered per provider through the control routes.
            fault = {"faults": [{"kind": "status", "status": 503, "times": 1}]}
            assert http.post("/_emulator/certn/faults", json=fault).status_code == 200
            assert http.get("/api/public/cases/", headers={"Authorization": "Api-Key x"}).status_code == 503
            seen = http.get("/_emulator/certn/requests").json()
            assert [r["path"] for r in seen][-1] == "/api/public/cases/"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    assert clearinghouse.SANDBOX_TOKEN in (proc.stderr.read().decode() if proc.stderr else "")
