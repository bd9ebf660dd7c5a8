"""Stateless workers: two real casebridge HTTP processes on one PostgreSQL ledger and one Certn emulator.

In the 2026-07-28 era every request goes through a round-robin front with no affinity; 2025-11-25-era
sessions live in one process's memory, so those clients talk to one worker each (README: "Running for
a team"), and a session id taken to the other worker is refused with 404.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2 as httpx
import pytest
from mcp import Client

from casebridge.sandbox.certn.app import SANDBOX_API_KEY, CertnEmulator, build
from casebridge.sandbox.emulation import LoopbackServer
from casebridge.server.ledger_postgres import PostgresLedger
from tests.postgres import PostgresCluster
from tests.reliability.round_robin import RoundRobin, Worker, serve_front
from tests.support import text_of
from tests.tools.write_support import Elicitation

ORDER = "/api/public/cases/order/"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
}
JSON_RPC = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@dataclass
class Team:
    emu: CertnEmulator
    database: str
    workers: list[Worker]
    front: RoundRobin
    front_url: str

    def posts(self, email: str) -> int:
        return sum(1 for r in self.emu.requests if r.method == "POST" and r.path == ORDER and email in r.body.decode())


@pytest.fixture(scope="module")
def team(postgres: PostgresCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    emu = build()
    certn = LoopbackServer(emu.app).start()  # type: ignore[arg-type]
    database = postgres.new_database()
    workers = []
    for i in range(2):  # each its own data folder: nothing is shared but the database
        env = {
            "CERTN_API_KEY": SANDBOX_API_KEY,
            "CERTN_BASE_URL": certn.url,
            "CASEBRIDGE_DATABASE_URL": database,
            "CASEBRIDGE_DATA_DIR": str(tmp_path_factory.mktemp(f"worker-{i}")),
        }
        workers.append(Worker(env))
    with contextlib.ExitStack() as stack:
        for worker in workers:
            stack.callback(worker.stop)
            worker.wait_ready()
        front, front_server = serve_front([w.url for w in workers])
        stack.callback(front_server.stop)
        yield Team(emu, database, workers, front, front_server.url)
    certn.stop()
    for worker in workers:
        assert worker.proc.returncode == 0


def order_args(email: str) -> dict[str, Any]:
    return {
        "applicant": {"email": email, "given_name": "Wren", "family_name": "Worker"},
        "invite": "email_invite",
        "check_types": ["criminal record check"],
    }


async def test_twenty_elicited_orders_round_robin_make_one_post(team: Team) -> None:
    """2026-07-28: each confirmation is asked on one worker and often answered on the other."""
    email = "twenty.round.robin@example.com"
    results: list[Any] = []
    asked = Elicitation()
    async with Client(team.front_url + "/mcp", mode="auto", elicitation_callback=asked) as client:  # type: ignore[arg-type]

        async def one() -> None:
            results.append(await client.call_tool("order_case", order_args(email)))

        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(one)
    assert team.posts(email) == 1
    assert all(not r.is_error for r in results), [text_of(r) for r in results if r.is_error]
    statuses = sorted(r.structured_content["status"] for r in results)
    assert statuses == ["already_ordered"] * 19 + ["ordered"]
    calls = team.front.workers_of(email.encode())
    assert set(calls) == {0, 1}, calls  # both workers served these orders


async def test_a_confirmation_asked_on_one_worker_is_answered_on_the_other(team: Team) -> None:
    email = "handed.over@example.com"
    asked = Elicitation()
    async with Client(team.front_url + "/mcp", mode="auto", elicitation_callback=asked) as client:  # type: ignore[arg-type]
        result = await client.call_tool("order_case", order_args(email))
    assert not result.is_error, text_of(result)
    assert result.structured_content["status"] == "ordered" and len(asked.messages) == 1  # type: ignore[index]
    first, answered = team.front.workers_of(email.encode())  # the call, then the call with the answer
    assert first != answered
    assert b"requestState" in [f.body for f in team.front.log if email.encode() in f.body][-1]
    assert team.posts(email) == 1


async def test_twenty_token_orders_over_both_workers_make_one_post(team: Team) -> None:
    """2025-11-25 with confirmation tokens: one session per worker, ten concurrent orders on each."""
    email = "twenty.tokens@example.com"
    args = order_args(email)
    results: list[Any] = []
    async with (
        Client(team.workers[0].url + "/mcp", mode="legacy") as first,  # type: ignore[arg-type]
        Client(team.workers[1].url + "/mcp", mode="legacy") as second,  # type: ignore[arg-type]
    ):
        tokens = []
        for client in (first, second) * 10:  # each quote's token from one worker, confirmed on the other
            quote = await client.call_tool("order_case", args)
            tokens.append(quote.structured_content["confirmation_token"])  # type: ignore[index]

        async def confirm(client: Client, token: str) -> None:
            results.append(await client.call_tool("order_case", {**args, "confirmation_token": token}))

        async with anyio.create_task_group() as tg:
            for i, token in enumerate(tokens):
                tg.start_soon(confirm, (second, first)[i % 2], token)
    assert team.posts(email) == 1
    assert sorted(r.structured_content["status"] for r in results) == ["already_ordered"] * 19 + ["ordered"]


async def test_a_token_used_on_one_worker_is_refused_on_the_other(team: Team) -> None:
    email = "used.once@example.com"
    args = order_args(email)
    async with (
        Client(team.workers[0].url + "/mcp", mode="legacy") as first,  # type: ignore[arg-type]
        Client(team.workers[1].url + "/mcp", mode="legacy") as second,  # type: ignore[arg-type]
    ):
        quote = await first.call_tool("order_case", args)
        token = quote.structured_content["confirmation_token"]  # type: ignore[index]
        placed = await second.call_tool("order_case", {**args, "confirmation_token": token})
        assert placed.structured_content["status"] == "ordered", text_of(placed)  # type: ignore[index]
        # The case is cancelled, so only the used token stands between a replay and a second order.
        cancel = await first.call_tool("cancel_case", {"ref": placed.structured_content["case"]["ref"]})  # type: ignore[index]
        cancel_token = cancel.structured_content["confirmation_token"]  # type: ignore[index]
        cancelled = await second.call_tool(
            "cancel_case",
            {"ref": placed.structured_content["case"]["ref"], "confirmation_token": cancel_token},  # type: ignore[index]
        )
        assert not cancelled.is_error, text_of(cancelled)
        replay = await first.call_tool("order_case", {**args, "confirmation_token": token})
    assert replay.is_error and "already used" in text_of(replay), text_of(replay)
    assert team.posts(email) == 1


def test_a_2025_session_lives_on_its_worker_only(team: Team) -> None:
    """What needs affinity, as README says: the Mcp-Session-Id of one worker is unknown to the other."""
    with httpx.Client(timeout=30) as http:
        opened = http.post(team.workers[0].url + "/mcp", json=INIT, headers=JSON_RPC)
        assert opened.status_code == 200
        session = {"Mcp-Session-Id": opened.headers["mcp-session-id"], "Mcp-Protocol-Version": "2025-11-25"}
        listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert http.post(team.workers[0].url + "/mcp", json=initialized, headers={**JSON_RPC, **session}).is_success
        elsewhere = http.post(team.workers[1].url + "/mcp", json=listing, headers={**JSON_RPC, **session})
        assert elsewhere.status_code == 404, elsewhere.text
        at_home = http.post(team.workers[0].url + "/mcp", json=listing, headers={**JSON_RPC, **session})
        assert at_home.status_code == 200 and "order_case" in at_home.text
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "sticky" in readme and "Mcp-Session-Id" in readme and "404" in readme


def test_the_shared_history_is_append_only_in_postgres(postgres: PostgresCluster, team: Team) -> None:
    import psycopg

    with pytest.raises(psycopg.Error):
        postgres.sql(team.database, "UPDATE entries SET outcome = 'failed' WHERE outcome = 'ordered'")
    with pytest.raises(psycopg.Error):
        postgres.sql(team.database, "DELETE FROM used_confirmations")
    ledger = PostgresLedger(team.database)
    rows = ledger.recent(1000)
    ledger.close()
    ordered = [r for r in rows if r.outcome == "ordered"]
    emails = [json.dumps(r.entry.request.get("email")) for r in ordered]
    assert len(emails) == len(set(emails)), "an order was placed twice"
    assert {'"twenty.round.robin@example.com"', '"used.once@example.com"'} <= set(emails)
