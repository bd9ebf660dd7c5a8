"""cancel_case: allowed and refused cancellations, confirmation in both eras, the ledger after each."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from casebridge.sandbox.certn.app import error_body
from tests.support import hold
from tests.tools.write_support import Elicitation, World, call

TOOL = "cancel_case"


def new_case(world: World, email: str, invite: str = "email") -> str:
    claims = {}
    if invite == "quickscreen":
        claims = {
            "name": {"given_name": "Ana", "family_name": "Roy"},
            "date_of_birth": "1990-01-01",
            "residences": [{"address": {"street_address": "1 Main St", "locality": "Ottawa", "country": "CA"}}],
        }
    case = world.emu.store.place_order(
        email, {"IDENTITY_VERIFICATION_1": {}}, invite=invite, claims=claims, group=None, tags=[]
    )
    return case.id


def cancel_posts(world: World) -> int:
    return sum(1 for r in world.emu.requests if r.method == "POST" and r.path.endswith("/cancel/"))


def rows(world: World, case_id: str) -> list[str]:
    return [r.entry.outcome for r in reversed(world.ledger().recent(100)) if r.entry.provider_id == case_id]


async def test_confirm_with_token_then_cancel(world: World, era: str) -> None:
    case_id = new_case(world, f"cancel.token.{era}@example.com")
    async with hold(Client(world.server(), mode=era)) as client:
        quoted = await call(client, TOOL, {"ref": f"certn:{case_id}"})
        assert quoted.data["status"] == "confirmation_required", quoted.text
        assert "nothing has been cancelled yet" in quoted.text and "cannot be undone" in quoted.text
        assert cancel_posts(world) == 0
        done = await call(
            client, TOOL, {"ref": f"certn:{case_id}", "confirmation_token": quoted.data["confirmation_token"]}
        )
    assert done.data["status"] == "cancelled", done.text
    assert done.data["case"]["status"] == "Cancelled"
    assert world.emu.store.cases[case_id].overall_status == "CANCELLED"
    assert cancel_posts(world) == 1
    assert rows(world, case_id) == ["quoted", "sending", "cancelled"]


@pytest.mark.parametrize(
    ("action", "confirm"), [("accept", True), ("decline", True), ("cancel", True), ("accept", False)]
)
async def test_elicitation_in_both_eras(world: World, era: str, action: str, confirm: bool) -> None:
    case_id = new_case(world, f"cancel.elicit.{era}@example.com")
    asked = Elicitation(action, confirm)
    async with hold(Client(world.server(), mode=era, elicitation_callback=asked)) as client:
        result = await call(client, TOOL, {"ref": case_id})
    assert not result.is_error, result.text
    (question,) = asked.messages
    assert f"certn:{case_id}" in question and "Identity verification (awaiting applicant submission)" in question
    if action == "accept" and confirm:
        assert result.data["status"] == "cancelled" and cancel_posts(world) == 1
        assert rows(world, case_id) == ["sending", "cancelled"]
    else:
        assert result.data["status"] == "not_cancelled" and result.text.startswith("Nothing was cancelled")
        assert cancel_posts(world) == 0
        assert world.emu.store.cases[case_id].overall_status != "CANCELLED"
        assert rows(world, case_id) == ["declined"]


async def test_refused_once_checks_have_started(world: World) -> None:
    case_id = new_case(world, "cancel.late@example.com", invite="quickscreen")
    world.emu.store.travel(20 * 60)  # the check is in progress now
    asked = Elicitation()
    async with hold(Client(world.server(), mode="auto", elicitation_callback=asked)) as client:
        refused = await call(client, TOOL, {"ref": f"certn:{case_id}"})
    assert refused.is_error and asked.messages == []  # nothing to confirm: Certn would refuse
    error = refused.data["error"]
    assert error["category"] == "provider_rejected" and not error["retryable"]
    assert "Nothing was cancelled" in refused.text and "awaiting the applicant or pending fulfilment" in refused.text
    assert "Identity verification is in progress" in refused.text
    assert cancel_posts(world) == 0
    assert rows(world, case_id) == ["refused"]


async def test_certn_refusing_at_the_last_moment_is_explained(world: World) -> None:
    case_id = new_case(world, "cancel.race@example.com")
    body = error_body("validation_error", "invalid", "Case cannot be cancelled")
    world.emu.inject(kind="status", status=400, body=body, method="POST", path=f"/api/public/cases/{case_id}/cancel/")
    async with hold(Client(world.server(), mode="legacy", elicitation_callback=Elicitation())) as client:
        refused = await call(client, TOOL, {"ref": f"certn:{case_id}"})
    assert refused.is_error
    assert "Nothing was cancelled" in refused.text and "Certn said: <<<data " in refused.text
    assert ": Case cannot be cancelled data " in refused.text  # Certn's words, fenced as data
    assert rows(world, case_id) == ["sending", "refused"]


async def test_already_cancelled_is_not_cancelled_again(world: World) -> None:
    case_id = new_case(world, "cancel.twice@example.com")
    world.emu.store.cancel(world.emu.store.cases[case_id])
    async with hold(Client(world.server(), mode="auto", elicitation_callback=Elicitation())) as client:
        again = await call(client, TOOL, {"ref": f"certn:{case_id}"})
    assert again.data["status"] == "already_cancelled" and "nothing was changed" in again.text
    assert cancel_posts(world) == 0


@pytest.mark.parametrize("how", ["other case", "expired", "replayed"])
async def test_wrong_confirmation_cancels_nothing(world: World, how: str) -> None:
    case_id = new_case(world, f"cancel.wrong.{how.replace(' ', '')}@example.com")
    other_id = new_case(world, "cancel.other@example.com")
    async with hold(Client(world.server(), mode="legacy")) as client:
        token = (await call(client, TOOL, {"ref": f"certn:{other_id if how == 'other case' else case_id}"})).data[
            "confirmation_token"
        ]
        if how == "expired":
            world.clock.advance(15 * 60 + 1)
        if how == "replayed":
            body = error_body("server_error", "error", "A server error occurred.")
            world.emu.inject(kind="status", status=500, body=body, method="POST")
            first = await call(client, TOOL, {"ref": f"certn:{case_id}", "confirmation_token": token})
            assert first.is_error and cancel_posts(world) == 1
        result = await call(client, TOOL, {"ref": f"certn:{case_id}", "confirmation_token": token})
    assert result.is_error and "Nothing was cancelled" in result.text
    assert result.data["error"]["field"] == "confirmation_token"
    assert world.emu.store.cases[case_id].overall_status != "CANCELLED"
    assert cancel_posts(world) == (1 if how == "replayed" else 0)


@pytest.mark.parametrize(
    ("ref", "category"),
    [
        ("clearinghouse:15150", "not_configured"),
        ("certn:not-a-uuid", "invalid_input"),
        ("certn:" + "0" * 32, "not_found"),
    ],
)
async def test_bad_refs(world: World, ref: str, category: str) -> None:
    async with hold(Client(world.server(), mode="auto")) as client:
        result = await call(client, TOOL, {"ref": ref})
    assert result.is_error and result.data["error"]["category"] == category, result.text


async def test_a_cancelled_order_can_be_ordered_again(world: World) -> None:
    args: dict[str, Any] = {
        "applicant": {"email": "reorder@example.com"},
        "invite": "email_invite",
        "check_types": ["credit check"],
    }
    async with hold(Client(world.server(), mode="auto", elicitation_callback=Elicitation())) as client:
        first = await call(client, "order_case", args)
        cancelled = await call(client, TOOL, {"ref": first.data["case"]["ref"]})
        assert cancelled.data["status"] == "cancelled"
        second = await call(client, "order_case", args)
    assert second.data["status"] == "ordered" and second.data["case"]["ref"] != first.data["case"]["ref"]
