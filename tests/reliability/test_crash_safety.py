"""Crash safety: SIGKILL the server in the middle of an order; the ledger stays consistent and a
later identical order never buys a second check.

The server is a real stdio subprocess talking to the Certn emulator on loopback (in this test
process, so the emulator outlives the kill). The kill lands while the order POST is held by the
emulator (the request has reached "Certn", which goes on to create the case), or earlier, while
the pre-order lookup is held (nothing was sent). The later order runs in a fresh server over the
same ledger file, as after a restart.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import IO, Any

import anyio
import pytest
from mcp import Client

from casebridge.server.ledger import OrderLedger
from tests.reliability.harness import CanaryEmulators, assert_no_canary, canary_server
from tests.support import PYTHON, ROOT, hold, subprocess_env, text_of

ORDER = "/api/public/cases/order/"
HOLD = 2.5  # seconds the emulator holds the request the kill lands in


def order_args(email: str) -> dict[str, Any]:
    return {
        "applicant": {"email": email, "given_name": "Casey", "family_name": "Crash"},
        "invite": "email_invite",
        "check_types": ["criminal record check"],
    }


class StdioServer:
    """A casebridge stdio process driven with raw JSON-RPC, so the test holds its pid."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "server"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=subprocess_env(env),
            cwd=ROOT,
        )
        self.next_id = 1
        self.send(
            "initialize",
            {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "crash", "version": "0"}},
        )
        self.read()
        self.write({"jsonrpc": "2.0", "method": "notifications/initialized"})

    @property
    def stdout(self) -> IO[bytes]:
        assert self.proc.stdout is not None
        return self.proc.stdout

    def write(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(message) + "\n").encode())
        self.proc.stdin.flush()

    def send(self, method: str, params: dict[str, Any]) -> int:
        self.next_id += 1
        self.write({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        return self.next_id

    def read(self) -> dict[str, Any]:
        line = self.stdout.readline()
        assert line, "server closed stdout"
        message: dict[str, Any] = json.loads(line)
        return message

    def call(self, tool: str, args: dict[str, Any]) -> dict[str, Any]:
        wanted = self.send("tools/call", {"name": tool, "arguments": args})
        while True:
            message = self.read()
            if message.get("id") == wanted:
                result: dict[str, Any] = message["result"]
                return result

    def kill(self) -> str:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        return self.proc.stderr.read().decode() if self.proc.stderr else ""


def wait_for(predicate: Any, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def ledger_consistent(data_dir: Path) -> list[str]:
    """The database passes SQLite's integrity check; returns the outcomes, oldest first."""
    ledger = OrderLedger(data_dir)
    db = sqlite3.connect(ledger.path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()
    return [row.outcome for row in reversed(ledger.recent(1000))]


@pytest.mark.parametrize("kill_during", ["order-post", "lookup-before-posting"])
async def test_kill_mid_order_then_identical_order_buys_one_check(
    canary_emulators: CanaryEmulators, tmp_path: Path, kill_during: str
) -> None:
    from casebridge.tools.actions import ActionSettings

    emu = canary_emulators["certn"]
    canary_emulators.reset()
    data_dir = tmp_path / "data"
    email = f"crash.{kill_during}@example.com"
    args = order_args(email)
    env = {**canary_emulators.env(), "CASEBRIDGE_DATA_DIR": str(data_dir)}

    server = StdioServer(env)
    try:
        quoted = server.call("order_case", args)
        assert not quoted.get("isError"), quoted
        token = quoted["structuredContent"]["confirmation_token"]
        if kill_during == "order-post":
            emu.inject(kind="latency", seconds=HOLD, method="POST", path=ORDER)
            server.send("tools/call", {"name": "order_case", "arguments": {**args, "confirmation_token": token}})
            wait_for(lambda: any(r.method == "POST" and r.path == ORDER for r in emu.requests), "the order POST")
        else:
            emu.inject(kind="latency", seconds=HOLD, method="GET", path="/api/public/cases/")
            server.send("tools/call", {"name": "order_case", "arguments": {**args, "confirmation_token": token}})
            wait_for(
                lambda: any(r.method == "GET" and r.path == "/api/public/cases/" for r in emu.requests), "the lookup"
            )
    finally:
        stderr = server.kill()  # SIGKILL: no cleanup, no final ledger row
    assert_no_canary(stderr, "server stderr")

    def cases() -> list[Any]:
        return [c for c in emu.store.ordered() if c.email_address == email]  # type: ignore[attr-defined]

    if kill_during == "order-post":
        wait_for(lambda: len(cases()) == 1, "Certn to finish the order it received")  # the POST did arrive
    else:
        await anyio.sleep(HOLD)  # let the held lookup drain; nothing may have been ordered
        assert cases() == []
    outcomes = ledger_consistent(data_dir)
    # The kill left the attempt open: "sending" when the POST had left, "pending" when it had not.
    assert outcomes[-1] == ("sending" if kill_during == "order-post" else "pending"), outcomes
    posts_before = sum(1 for r in emu.requests if r.method == "POST")

    # Restarted at once: the open attempt may still be in flight elsewhere, so nothing is sent.
    busy = ActionSettings(inflight_wait=0.3, poll_interval=0.05)
    async with hold(Client(canary_server(canary_emulators, casebridge_data_dir=data_dir, actions=busy))) as client:
        quote = await client.call_tool("order_case", args)
        token = quote.structured_content["confirmation_token"]  # type: ignore[index]
        waiting = await client.call_tool("order_case", {**args, "confirmation_token": token})
        assert waiting.is_error, text_of(waiting)
        assert waiting.structured_content["error"]["retryable"] is True  # type: ignore[index]
    assert sum(1 for r in emu.requests if r.method == "POST") == posts_before

    # Later (the in-flight lease has run out): the identical order finds the case, or places the only one.
    later = ActionSettings(inflight_lease=0.1, inflight_wait=2.0, poll_interval=0.05)
    await anyio.sleep(0.2)
    async with hold(Client(canary_server(canary_emulators, casebridge_data_dir=data_dir, actions=later))) as client:
        quote = await client.call_tool("order_case", args)
        data = quote.structured_content or {}
        if data.get("status") == "confirmation_required":
            placed = await client.call_tool("order_case", {**args, "confirmation_token": data["confirmation_token"]})
        else:
            placed = quote
        assert not placed.is_error, text_of(placed)
        assert placed.structured_content["status"] in ("ordered", "already_ordered")  # type: ignore[index]
        ref = placed.structured_content["case"]["ref"]  # type: ignore[index]
        assert_no_canary(placed.model_dump(), "order result")

        again = await client.call_tool("order_case", args)  # and once more, for good measure
        assert again.structured_content["status"] == "already_ordered", text_of(again)  # type: ignore[index]

    assert len(cases()) == 1, "a second check was bought"
    assert ref == f"certn:{cases()[0].id}"
    new_posts = sum(1 for r in emu.requests if r.method == "POST") - posts_before
    assert new_posts == (0 if kill_during == "order-post" else 1)

    outcomes = ledger_consistent(data_dir)
    ordered = [row for row in OrderLedger(data_dir).recent(1000) if row.outcome == "ordered"]
    assert len(ordered) == 1 and ordered[0].entry.provider_id == cases()[0].id, outcomes
    blobs = b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())
    assert_no_canary(blobs.decode("latin-1"), "ledger files")
