"""An accepted elicitation confirms one call: replaying its 2026-07-28 second round orders nothing."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, ElicitResult, InputRequiredResult

from tests.support import hold, text_of
from tests.tools.write_support import ORDER, Elicitation, World, call

CANCEL = "/api/public/cases/{}/cancel/"


def order_args(email: str, **changes: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "applicant": {"email": email, "given_name": "Rita", "family_name": "Play"},
        "invite": "email_invite",
        "check_types": ["criminal record check"],
    }
    return {**args, **changes}


async def ask(client: Client, tool: str, args: dict[str, Any]) -> InputRequiredResult:
    """The first round: the server asks the user and returns its sealed state."""
    first = await client.session.call_tool(tool, args, allow_input_required=True)
    assert isinstance(first, InputRequiredResult), first
    return first


async def answer(client: Client, tool: str, args: dict[str, Any], first: InputRequiredResult) -> CallToolResult:
    """The second round, "yes": the exact request a client (or anyone holding it) can send again."""
    (key,) = first.input_requests
    responses = {key: ElicitResult(action="accept", content={"confirm": True})}
    result = await client.session.call_tool(
        tool, args, input_responses=responses, request_state=first.request_state, allow_input_required=True
    )
    assert isinstance(result, CallToolResult), result
    return result


def modern(world: World) -> Any:
    return hold(Client(world.server(), mode="auto", elicitation_callback=Elicitation()))


async def cancel(client: Client, ref: str) -> None:
    done = await call(client, "cancel_case", {"ref": ref})  # the client's callback says yes
    assert done.data["status"] == "cancelled", done.text


async def test_replaying_the_second_round_orders_once_and_asks_nothing_new(world: World) -> None:
    args = order_args("replay.same@example.com")
    async with modern(world) as client:
        first = await ask(client, "order_case", args)
        placed = await answer(client, "order_case", args, first)
        replay = await answer(client, "order_case", args, first)
    assert not placed.is_error and placed.structured_content["status"] == "ordered", text_of(placed)  # type: ignore[index]
    assert not isinstance(replay, InputRequiredResult)
    assert replay.structured_content["status"] == "already_ordered", text_of(replay)  # type: ignore[index]
    assert len(world.requests(ORDER)) == 1


async def test_a_replay_after_the_order_was_cancelled_orders_nothing(world: World) -> None:
    args = order_args("replay.cancelled@example.com")
    async with modern(world) as client:
        first = await ask(client, "order_case", args)
        placed = await answer(client, "order_case", args, first)
        await cancel(client, placed.structured_content["case"]["ref"])  # type: ignore[index]
        replay = await answer(client, "order_case", args, first)
    assert replay.is_error, text_of(replay)
    error = replay.structured_content["error"]  # type: ignore[index]
    assert "Nothing was ordered" in error["message"] and "replayed" in error["message"]
    assert "without the earlier inputResponses and requestState" in error["fix"]
    assert len(world.requests(ORDER)) == 1
    last = world.ledger().recent(1)[0].entry
    assert (last.outcome, last.detail.get("note")) == ("not_confirmed", "replayed")


async def test_a_replay_after_a_cancellation_outside_casebridge_orders_nothing(world: World) -> None:
    email = "replay.elsewhere@example.com"
    args = order_args(email)
    async with modern(world) as client:
        first = await ask(client, "order_case", args)
        placed = await answer(client, "order_case", args, first)
        assert placed.structured_content["status"] == "ordered", text_of(placed)  # type: ignore[index]
        (case,) = world.cases_of(email)
        assert world.emu.store.cancel(case)  # in the Certn portal, say
        (key,) = first.input_requests
        replay = await client.session.call_tool(
            "order_case",
            args,
            input_responses={key: ElicitResult(action="accept", content={"confirm": True})},
            request_state=first.request_state,
            allow_input_required=True,
        )
    # The question now mentions the cancelled case, so the old answer does not fit it: asked again.
    assert isinstance(replay, InputRequiredResult), replay
    (question,) = replay.input_requests.values()
    assert "does not count" in question.params.message  # type: ignore[union-attr]
    assert len(world.requests(ORDER)) == 1 and len(world.cases_of(email)) == 1


async def test_asking_again_after_a_cancellation_is_a_new_answer(world: World) -> None:
    """Each question gets its own nonce: the same order asked about twice is not a replay."""
    email = "asked.twice@example.com"
    args = order_args(email)
    async with modern(world) as client:
        placed = await answer(client, "order_case", args, await ask(client, "order_case", args))
        await cancel(client, placed.structured_content["case"]["ref"])  # type: ignore[index]
        again = await answer(client, "order_case", args, await ask(client, "order_case", args))
    assert not again.is_error and again.structured_content["status"] == "ordered", text_of(again)  # type: ignore[index]
    assert len(world.requests(ORDER)) == 2 and len(world.cases_of(email)) == 2


@pytest.mark.parametrize(
    "change",
    [
        {"check_types": ["credit check"]},
        {"applicant": {"email": "someone.else@example.com"}},
        {"applicant": {"email": "bound@example.com", "date_of_birth": "1990-01-01"}},  # not in the summary
    ],
    ids=["other checks", "other applicant", "other details"],
)
async def test_an_answer_confirms_only_the_order_it_was_asked_for(world: World, change: dict[str, Any]) -> None:
    args = order_args("bound@example.com")
    other = {**args, **change}
    async with modern(world) as client:
        first = await ask(client, "order_case", args)
        try:
            result: Any = await client.session.call_tool(
                "order_case",
                other,
                input_responses={
                    k: ElicitResult(action="accept", content={"confirm": True}) for k in first.input_requests
                },
                request_state=first.request_state,
                allow_input_required=True,
            )
        except MCPError as refused:  # the SDK's seal binds the state to the exact arguments
            assert "requestState" in str(refused)
        else:
            assert isinstance(result, InputRequiredResult), result  # asked again, never taken as confirmed
    assert world.requests(ORDER) == []


async def test_a_cancellation_answer_is_single_use(world: World) -> None:
    email = "cancel.replay@example.com"
    async with modern(world) as client:
        args = order_args(email)
        placed = await answer(client, "order_case", args, await ask(client, "order_case", args))
        ref = placed.structured_content["case"]["ref"]  # type: ignore[index]
        path = CANCEL.format(ref.split(":", 1)[1])
        first = await ask(client, "cancel_case", {"ref": ref})
        world.emu.inject(kind="status", status=400, method="POST", path=path, body={"detail": "try later"})
        refused = await answer(client, "cancel_case", {"ref": ref}, first)
        assert refused.is_error, text_of(refused)
        replay = await answer(client, "cancel_case", {"ref": ref}, first)
    assert replay.is_error and "replayed" in text_of(replay), text_of(replay)
    assert len(world.requests(path)) == 1
