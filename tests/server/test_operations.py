"""Operating the HTTP server: /healthz and /readyz, request ids and JSON-lines logs, SIGTERM with calls in flight.

Real server processes on loopback, against the emulators on loopback.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from casebridge.sandbox.emulation import free_port
from tests.reliability.harness import CANARIES
from tests.support import PYTHON, ROOT, Emulators, subprocess_env

TOKEN = CANARIES["CASEBRIDGE_HTTP_TOKEN"]
CALL = {
    "jsonrpc": "2.0",
    "id": 7,
    "method": "tools/call",
    "params": {
        "name": "search_cases",
        "arguments": {"provider": "commcare", "limit": 2},
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
        },
    },
}
HEADERS = {
    "content-type": "application/json",
    "accept": "application/json, text/event-stream",
    "mcp-protocol-version": "2026-07-28",
    "mcp-method": "tools/call",
    "mcp-name": "search_cases",
    "authorization": f"Bearer {TOKEN}",
}


def start(env: dict[str, str], *args: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [PYTHON, "-m", "server", "--transport", "http", "--port", str(port), *args]
    proc = subprocess.Popen(
        command, env=subprocess_env(env), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "no start") from None
            time.sleep(0.05)


def stop(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    return code, proc.stderr.read().decode() if proc.stderr else ""


def result_of(response: httpx.Response) -> dict[str, Any]:
    text = response.text
    data = next((line[6:] for line in text.splitlines() if line.startswith("data: ")), text)
    return json.loads(data)  # type: ignore[no-any-return]


def test_health_and_readiness_need_no_token_and_say_little(emulators: Emulators, tmp_path: Path) -> None:
    proc, base = start(emulators.env(CASEBRIDGE_HTTP_TOKEN=TOKEN, CASEBRIDGE_DATA_DIR=str(tmp_path)))
    try:
        health = httpx.get(base + "/healthz", timeout=10)
        assert health.status_code == 200 and health.json()["status"] == "alive" and "version" in health.json()
        ready = httpx.get(base + "/readyz", timeout=10)
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "checks": {"providers": "ok", "ledger": "ok"}}
        assert httpx.post(base + "/mcp", json=CALL, timeout=10).status_code == 401  # the rest still needs it
    finally:
        stop(proc)


def test_not_ready_without_a_provider(tmp_path: Path) -> None:
    proc, base = start({"CASEBRIDGE_DATA_DIR": str(tmp_path)})
    try:
        ready = httpx.get(base + "/readyz", timeout=10)
        assert ready.status_code == 503
        assert ready.json()["checks"]["providers"] == "none configured"
        assert httpx.get(base + "/healthz", timeout=10).status_code == 200  # alive all the same
    finally:
        stop(proc)


def test_json_logs_carry_the_request_id_and_never_the_token(emulators: Emulators, tmp_path: Path) -> None:
    env = emulators.env(CASEBRIDGE_HTTP_TOKEN=TOKEN, CASEBRIDGE_DATA_DIR=str(tmp_path))
    proc, base = start(env, "--log-format", "json", "--log-level", "INFO")
    try:
        response = httpx.post(base + "/mcp", json=CALL, headers={**HEADERS, "x-request-id": "req-12345678"}, timeout=30)
        assert response.status_code == 200 and response.headers["x-request-id"] == "req-12345678"
        assert not result_of(response)["result"].get("isError")
        fresh = httpx.get(base + "/healthz", timeout=10)
        assert "x-request-id" not in fresh.headers  # health checks are not logged or traced
        other = httpx.post(base + "/mcp", json=CALL, headers=HEADERS, timeout=30)
        assert len(other.headers["x-request-id"]) == 32  # none supplied: a fresh one
    finally:
        code, stderr = stop(proc)
    assert code == 0
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]  # every line is JSON
    assert {"time", "level", "logger", "message", "request_id", "caller"} <= set(lines[0])
    ours = [line for line in lines if line["request_id"] == "req-12345678"]
    assert any(line["message"].startswith("POST /mcp -> 200") for line in ours)
    assert any(line["message"] == "tools/call search_cases" for line in ours)
    assert TOKEN not in stderr


def test_sigterm_stops_accepting_and_finishes_the_call_in_flight(emulators: Emulators, tmp_path: Path) -> None:
    proc, base = start(emulators.env(CASEBRIDGE_HTTP_TOKEN=TOKEN, CASEBRIDGE_DATA_DIR=str(tmp_path)))
    commcare = emulators["commcare"]
    seen = len(commcare.requests)
    commcare.inject(kind="latency", seconds=3.0, times=1)
    answers: list[httpx.Response] = []
    call = threading.Thread(
        target=lambda: answers.append(httpx.post(base + "/mcp", json=CALL, headers=HEADERS, timeout=60))
    )
    call.start()
    for _ in range(600):  # until the call is in flight at the provider
        if len(commcare.requests) > seen:
            break
        time.sleep(0.01)
    else:
        pytest.fail("the call never reached the emulator")
    proc.send_signal(signal.SIGTERM)
    port = int(base.rsplit(":", 1)[1])
    refused = False
    for _ in range(300):  # the listening socket closes at once, while the call still runs
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            time.sleep(0.01)
        except OSError:
            refused = True
            break
    call.join(timeout=60)
    code = proc.wait(timeout=60)
    assert refused, "the server kept accepting connections after SIGTERM"
    assert answers and answers[0].status_code == 200
    result = result_of(answers[0])["result"]
    assert not result.get("isError") and result["structuredContent"]["cases"]
    assert code == 0
