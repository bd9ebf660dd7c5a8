"""Secret canaries where the other reliability modules do not look: other processes' output.

The in-process modules (fault matrix, generated inputs, write faults, untrusted text) check every
tool result, resource, exception and ledger row, and the session-wide log spy checks every log
line, for the canary credentials. This module adds what only a separate process shows: ``casebridge
doctor`` output, a DEBUG-logging server's stderr, and process arguments.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from casebridge.sandbox.certn.app import error_body
from tests.reliability.harness import CANARIES, CanaryEmulators, LogSpy, assert_no_canary, canary_server, leaks
from tests.support import PYTHON, ROOT, TEST_POLICY, subprocess_env

FAULTS: dict[str, dict[str, Any]] = {
    "none": {},
    "401-echoing-the-key": {"kind": "status", "status": 401},
    "500-echoing-the-key": {"kind": "status", "status": 500},
    "malformed": {"kind": "malformed"},
    "reset": {"kind": "drop"},
}


def echo_body(provider: str) -> Any:
    key = {"clearinghouse": "CLEARINGHOUSE_API_TOKEN", "commcare": "COMMCARE_API_KEY", "certn": "CERTN_API_KEY"}
    said = f"credential {CANARIES[key[provider]]} is not valid here"
    return error_body("client_error", "x", said) if provider == "certn" else {"detail": said, "error": said}


def inject_everywhere(emulators: CanaryEmulators, fault: dict[str, Any]) -> None:
    emulators.reset()
    if not fault:
        return
    for name in ("clearinghouse", "commcare", "certn"):
        spec = dict(fault, times=999)
        if spec["kind"] == "status":
            spec["body"] = echo_body(name)
        emulators[name].inject(**spec)


@pytest.mark.parametrize("fault", list(FAULTS))
def test_doctor_output_carries_no_credential(canary_emulators: CanaryEmulators, fault: str, tmp_path: Path) -> None:
    inject_everywhere(canary_emulators, FAULTS[fault])
    env = {**canary_emulators.env(), "CASEBRIDGE_HTTP_TOKEN": CANARIES["CASEBRIDGE_HTTP_TOKEN"]}
    env["CASEBRIDGE_DATA_DIR"] = str(tmp_path)
    try:
        proc = subprocess.run(
            [PYTHON, "-m", "server", "--log-level", "DEBUG", "doctor"],
            capture_output=True,
            text=True,
            timeout=120,
            env=subprocess_env(env),
            cwd=ROOT,
        )
    finally:
        canary_emulators.reset()
    assert proc.stdout.strip(), proc.stderr  # it printed its table
    assert proc.returncode == (0 if fault == "none" else 1), proc.stdout
    assert not leaks(proc.stdout), proc.stdout
    assert not leaks(proc.stderr), [line for line in proc.stderr.splitlines() if leaks(line)][:3]


def test_debug_logging_server_process_leaks_nothing(canary_emulators: CanaryEmulators, tmp_path: Path) -> None:
    """A stdio server at DEBUG level, through faults: stderr and its command line stay clean."""
    env = {**canary_emulators.env(), "CASEBRIDGE_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [PYTHON, "-m", "server", "--log-level", "DEBUG"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=subprocess_env(env),
        cwd=ROOT,
    )
    assert proc.stdin and proc.stdout
    cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode("latin-1")
    assert not leaks(cmdline)

    def rpc(message: dict[str, Any]) -> None:
        assert proc.stdin
        proc.stdin.write((json.dumps(message) + "\n").encode())
        proc.stdin.flush()

    rpc(
        {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "0"},
            },
        }
    )
    assert json.loads(proc.stdout.readline())["id"] == 0
    rpc({"jsonrpc": "2.0", "method": "notifications/initialized"})
    answers: list[str] = []
    try:
        for n, fault in enumerate(FAULTS.values(), start=1):
            inject_everywhere(canary_emulators, fault)
            for provider in ("clearinghouse", "commcare", "certn"):
                rpc(
                    {
                        "jsonrpc": "2.0",
                        "id": n * 10 + len(answers),
                        "method": "tools/call",
                        "params": {"name": "search_cases", "arguments": {"provider": provider, "limit": 1}},
                    }
                )
                answers.append(proc.stdout.readline().decode())
    finally:
        canary_emulators.reset()
        proc.stdin.close()
        proc.wait(timeout=30)
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert "DEBUG" in stderr  # the debug log really was on
    for answer in answers:
        assert json.loads(answer)["result"], answer
        assert not leaks(answer), answer
    assert not leaks(stderr), [line for line in stderr.splitlines() if leaks(line)][:3]


async def test_log_spy_is_live(canary_emulators: CanaryEmulators, log_spy: LogSpy, tmp_path: Path) -> None:
    """The process-wide log check sees casebridge's and httpx's records (so its silence means something)."""
    from mcp import Client

    before = log_spy.count
    server = canary_server(canary_emulators, policy=TEST_POLICY, casebridge_data_dir=tmp_path)
    inject_everywhere(canary_emulators, FAULTS["401-echoing-the-key"])
    try:
        async with Client(server) as client:
            result = await client.call_tool("search_cases", {"provider": "certn", "limit": 1})
    finally:
        canary_emulators.reset()
    assert result.is_error
    assert_no_canary(result.model_dump())
    assert log_spy.count > before
