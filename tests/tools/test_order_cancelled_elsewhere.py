"""An identical order counts as a duplicate only while its case is live at Certn (read before saying so)."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from tests.support import hold
from tests.tools.write_support import ORDER, Called, Elicitation, World, call

TOOL = "order_case"


def order_args(email: str) -> dict[str, Any]:
    return {
        "applicant": {"email": email, "given_name": "Cal", "family_name": "Elsewhere"},
        "invite": "email_invite",
        "check_types": ["criminal record check", "id verification"],
    }


async def confirmed(client: Client, args: dict[str, Any]) -> Called:
    quoted = await call(client, TOOL, args)
    assert quoted.data["status"] == "confirmation_required", quoted.text
    return await call(client, TOOL, {**args, "confirmation_token": quoted.data["confirmation_token"]})


def end_outside_casebridge(world: World, email: str, how: str) -> str:
    (case,) = world.cases_of(email)
    if how == "cancelled":
        assert world.emu.store.cancel(case)  # cancelled in the Certn portal
    else:
        case.applicant_timeline.clear()
        case.applicant_status = "APPLICANT_EXPIRED"
    return f"certn:{case.id}"


@pytest.mark.parametrize(("how", "label"), [("cancelled", "Cancelled"), ("expired", "Applicant expired")])
async def test_a_case_ended_outside_casebridge_does_not_block_ordering_again(
    world: World, how: str, label: str
) -> None:
    email = f"ended.{how}@example.com"
    args = order_args(email)
    async with hold(Client(world.server(), mode="legacy")) as client:
        first = await confirmed(client, args)
        assert first.data["status"] == "ordered", first.text
        old = end_outside_casebridge(world, email, how)
        quoted = await call(client, TOOL, args)
        assert quoted.data["status"] == "confirmation_required", quoted.text
        (note,) = quoted.data["notes"]
        assert old in note and label in note and "does not count" in note
        assert old in quoted.text
        placed = await call(client, TOOL, {**args, "confirmation_token": quoted.data["confirmation_token"]})
    assert placed.data["status"] == "ordered", placed.text
    assert placed.data["case"]["ref"] != old
    assert len(world.requests(ORDER)) == 2 and len(world.cases_of(email)) == 2


async def test_elicitation_asks_again_naming_the_cancelled_case(world: World) -> None:
    email = "ended.elicited@example.com"
    args = order_args(email)
    asked = Elicitation()
    async with hold(Client(world.server(), mode="auto", elicitation_callback=asked)) as client:
        first = await call(client, TOOL, args)
        old = end_outside_casebridge(world, email, "cancelled")
        again = await call(client, TOOL, args)
    assert first.data["status"] == again.data["status"] == "ordered", again.text
    assert len(asked.messages) == 2 and old in asked.messages[1] and "does not count" in asked.messages[1]
    assert any(old in n and "does not count" in n for n in again.data["notes"])
    assert len(world.cases_of(email)) == 2


async def test_a_live_case_counts_and_the_answer_names_it_with_its_status(world: World) -> None:
    email = "still.live@example.com"
    args = order_args(email)
    async with hold(Client(world.server(), mode="legacy")) as client:
        first = await confirmed(client, args)
        again = await call(client, TOOL, args)
    ref = first.data["case"]["ref"]
    assert again.data["status"] == "already_ordered" and again.data["case"]["ref"] == ref
    assert again.text.startswith(f"Already ordered (not ordered again): {ref}, status Applicant invited")
    assert "counts as this order" in again.data["notes"][0]
    assert len(world.requests(ORDER)) == 1


async def test_an_unreadable_status_counts_as_the_order(world: World) -> None:
    email = "unreadable.status@example.com"
    args = order_args(email)
    async with hold(Client(world.server(), mode="legacy")) as client:
        first = await confirmed(client, args)
        case_id = first.data["case"]["ref"].split(":", 1)[1]
        end_outside_casebridge(world, email, "cancelled")
        world.emu.inject(kind="status", status=503, times=99, method="GET", path=f"/api/public/cases/{case_id}/")
        again = await call(client, TOOL, args)
    assert again.data["status"] == "already_ordered", again.text
    assert "could not be read" in again.data["notes"][0] and "status unknown" in again.text
    assert len(world.requests(ORDER)) == 1


async def test_a_confirmed_call_that_meets_a_cancelled_case_orders_anew(world: World) -> None:
    """The claim's "already ordered" is checked too: a token quoted before the order was placed."""
    email = "ended.between@example.com"
    args = order_args(email)
    async with hold(Client(world.server(), mode="legacy")) as client:
        early = await call(client, TOOL, args)  # quoted, then the same order is placed with another quote
        first = await confirmed(client, args)
        old = end_outside_casebridge(world, email, "cancelled")
        placed = await call(client, TOOL, {**args, "confirmation_token": early.data["confirmation_token"]})
    assert first.data["status"] == "ordered"
    assert placed.data["status"] == "ordered", placed.text
    assert any(old in n and "does not count" in n for n in placed.data["notes"])
    assert len(world.cases_of(email)) == 2
