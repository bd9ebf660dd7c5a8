"""A failure after the POST may have left is "may have been placed", never "nothing changed" or "try other arguments".

Certn really creates the case (the emulator's handler runs); then the answer is unreadable, the
lookup fails, or the ledger is locked by another process before the outcome is recorded.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from casebridge.sandbox.certn.app import CertnEmulator
from casebridge.sandbox.emulation import LoopbackServer
from casebridge.server.ledger import FILE_NAME
from tests.support import hold
from tests.tools.write_support import ORDER, Called, World, call

TOOL = "order_case"
DEEP_JSON = b"[" * 100_000 + b"]" * 100_000  # valid JSON, nested deeper than any parser recurses
ADVICE = "may have been placed: do not order again another way; call again with the same arguments"


class AfterPost:
    """Runs the emulator for real, then, for the next POST to ``path``: calls ``then`` and answers ``body``
    (when given) instead of Certn's own answer."""

    def __init__(self, app: ASGIApp, path: str) -> None:
        self.app = app
        self.path = path
        self.armed = False
        self.then: Callable[[], None] = lambda: None
        self.body: bytes | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (self.armed and scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == self.path):
            await self.app(scope, receive, send)
            return
        self.armed = False
        answer: list[Message] = []

        async def keep(message: Message) -> None:
            answer.append(message)

        await self.app(scope, receive, keep)
        self.then()
        if self.body is None:
            for message in answer:
                await send(message)
            return
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(self.body)).encode())]
        await send({"type": "http.response.start", "status": 201, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


@pytest.fixture
def after(certn: tuple[CertnEmulator, str], tmp_path: Path) -> Iterator[tuple[World, AfterPost]]:
    emu, _ = certn
    assert emu.app is not None
    emu.reset()
    wrapper = AfterPost(emu.app, ORDER)
    server = LoopbackServer(wrapper).start()  # type: ignore[arg-type]
    yield World(emu, server.url, tmp_path), wrapper
    server.stop()
    emu.reset()


def order_args(email: str) -> dict[str, Any]:
    return {
        "applicant": {"email": email, "given_name": "May", "family_name": "Placed"},
        "invite": "email_invite",
        "check_types": ["criminal record check"],
    }


async def quote(client: Client, args: dict[str, Any]) -> Called:
    quoted = await call(client, TOOL, args)
    assert quoted.data["status"] == "confirmation_required", quoted.text
    return quoted


async def confirm(client: Client, args: dict[str, Any]) -> Called:
    token = (await quote(client, args)).data["confirmation_token"]
    return await call(client, TOOL, {**args, "confirmation_token": token})


def assert_may_have_been_placed(result: Called) -> None:
    assert result.is_error, result.text
    error = result.data["error"]
    assert error["category"] == "may_have_been_placed", error
    assert error["retryable"] is True and ADVICE in error["message"]
    assert "different arguments" not in result.text and "Nothing was ordered" not in result.text


def outcomes(world: World) -> list[str]:
    return [r.entry.outcome for r in reversed(world.ledger().recent(100))]


async def test_an_unreadable_answer_is_looked_up_and_the_case_found(after: tuple[World, AfterPost]) -> None:
    world, wrapper = after
    email = "deep.found@example.com"
    args = order_args(email)
    wrapper.armed, wrapper.body = True, DEEP_JSON
    async with hold(Client(world.server(), mode="legacy")) as client:
        placed = await confirm(client, args)
    (case,) = world.cases_of(email)
    assert not placed.is_error and placed.data["status"] == "ordered", placed.text
    assert placed.data["case"]["ref"] == f"certn:{case.id}" and "answer was lost" in placed.text
    assert len(world.requests(ORDER)) == 1
    last = world.ledger().recent(1)[0].entry
    assert (last.outcome, last.provider_id) == ("ordered", case.id)


@pytest.mark.parametrize("answer", ["deep json", "malformed"])
async def test_an_unreadable_answer_not_found_afterwards_may_have_been_placed(
    after: tuple[World, AfterPost], answer: str
) -> None:
    world, wrapper = after
    email = f"unsure.{answer.replace(' ', '')}@example.com"
    args = order_args(email)
    if answer == "deep json":  # the case is created; the answer breaks the parser; the lookup fails
        wrapper.armed, wrapper.body = True, DEEP_JSON
        wrapper.then = lambda: world.emu.inject(kind="status", status=503, times=99, method="GET")
    else:  # Certn's answer is cut off before the case was created
        world.emu.inject(kind="malformed", method="POST", path=ORDER)
    async with hold(Client(world.server(), mode="legacy")) as client:
        unsure = await confirm(client, args)
        assert_may_have_been_placed(unsure)
        assert outcomes(world)[-1] == "uncertain"
        world.emu.faults.clear()
        again = await quote(client, args)
        assert "an earlier attempt of this order may have been placed" in again.text
        assert "nothing has been ordered yet" not in again.text
        found = await call(client, TOOL, {**args, "confirmation_token": again.data["confirmation_token"]})
    assert found.data["status"] == "ordered", found.text
    assert len(world.cases_of(email)) == 1
    assert len(world.requests(ORDER)) == (1 if answer == "deep json" else 2)


async def test_a_ledger_locked_after_the_post_may_have_been_placed(after: tuple[World, AfterPost]) -> None:
    world, wrapper = after
    email = "locked.ledger@example.com"
    args = order_args(email)
    holders: list[sqlite3.Connection] = []

    def lock() -> None:  # another process takes the write lock while the POST is at Certn
        holder = sqlite3.connect(world.data_dir / FILE_NAME, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        holders.append(holder)

    wrapper.armed, wrapper.then = True, lock
    server = world.server()
    server.registry.ledger.busy_timeout = 0.2  # type: ignore[union-attr]
    async with hold(Client(server, mode="legacy")) as client:
        token = (await quote(client, args)).data["confirmation_token"]
        try:
            unsure = await call(client, TOOL, {**args, "confirmation_token": token})
        finally:
            for holder in holders:
                holder.close()  # ends its transaction
        assert holders, "the ledger was not locked after the POST"
        assert_may_have_been_placed(unsure)
        (case,) = world.cases_of(email)
        assert f"certn:{case.id}" in unsure.text
        assert outcomes(world)[-1] == "sending"  # the outcome could not be written
        again = await quote(client, args)
        assert "an earlier attempt of this order may have been placed" in again.text
        assert any("look for it before ordering" in n for n in again.data["notes"])
        world.clock.advance(world.actions.inflight_lease + 1)  # that attempt is over
        found = await call(client, TOOL, {**args, "confirmation_token": again.data["confirmation_token"]})
    assert found.data["status"] == "ordered" and found.data["case"]["ref"] == f"certn:{case.id}", found.text
    assert len(world.requests(ORDER)) == 1 and len(world.cases_of(email)) == 1
    last = world.ledger().recent(1)[0].entry
    assert (last.outcome, last.provider_id) == ("ordered", case.id)


async def test_a_cancel_whose_answer_is_unclear_may_have_been_placed(world: World) -> None:
    email = "cancel.unclear@example.com"
    async with hold(Client(world.server(), mode="legacy")) as client:
        ref = (await confirm(client, order_args(email))).data["case"]["ref"]
        path = f"/api/public/cases/{ref.split(':', 1)[1]}/cancel/"
        token = (await call(client, "cancel_case", {"ref": ref})).data["confirmation_token"]
        world.emu.inject(kind="status", status=502, method="POST", path=path)
        unsure = await call(client, "cancel_case", {"ref": ref, "confirmation_token": token})
    assert unsure.is_error, unsure.text
    error = unsure.data["error"]
    assert error["category"] == "may_have_been_placed" and error["retryable"] is True, error
    assert "do not cancel another way" in error["message"]
    assert len(world.requests(path)) == 1
