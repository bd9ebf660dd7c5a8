"""Certn groups and report files, one call each (get_case certn:groups, certn:report/<id>); an order's
group checked before the quote; an order differing only in its invite flow is told what to do."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.tools.write_support import Elicitation, World, call, connect

GROUPS = "certn:groups"


def order_args(email: str, **changes: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "applicant": {"email": email, "given_name": "Jane", "family_name": "Doe"},
        "invite": "email_invite",
        "check_types": ["IDENTITY_VERIFICATION_1"],
    }
    args.update(changes)
    return args


async def test_groups_are_one_call(world: World, era: str) -> None:
    async with await connect(world.server(read_only=True), era) as client:
        result = await call(client, "get_case", {"ref": GROUPS})
    assert not result.is_error, result.text
    items = result.data["sections"]["groups"]
    assert {i["id"] for i in items} == {g.id for g in world.emu.store.groups}
    assert {i["title"] for i in items} == {g.name for g in world.emu.store.groups}
    assert result.data["ref"] == GROUPS and "order_case" in result.text
    for group in world.emu.store.groups:
        assert group.id in result.text


async def test_report_file_is_one_call(world: World, era: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = world.emu.store
    monkeypatch.setattr(store, "report_seconds", 1000.0)
    case = store.place_order(
        "r@example.com", {"IDENTITY_VERIFICATION_1": {}}, invite="email", claims={}, group=None, tags=[]
    )
    report = store.start_report(case)
    async with await connect(world.server(read_only=True), era) as client:
        pending = await call(client, "get_case", {"ref": f"certn:report/{report.id}"})
        assert not pending.is_error, pending.text
        assert pending.data["status"] == "pending" and "url" not in pending.data
        store.travel(1001)
        done = await call(client, "get_case", {"ref": f"certn:report/{report.id.upper()}"})
        missing = await call(client, "get_case", {"ref": f"certn:report/{uuid.uuid4()}"})
    assert done.data["status"] == "complete" and "/_files/" in done.data["url"]
    assert done.data["ref"] == f"certn:report/{report.id}" and "short-lived" in done.text
    assert missing.is_error and missing.data["error"]["category"] == "not_found"


async def test_other_refs_are_not_case_ids(world: World) -> None:
    async with await connect(world.server(), "auto") as client:
        cancel = await call(client, "cancel_case", {"ref": GROUPS})
        bad = await call(client, "get_case", {"ref": "certn:report/not-a-uuid"})
    assert cancel.is_error and cancel.data["error"]["category"] == "invalid_input"
    assert bad.is_error and bad.data["error"]["field"] == "ref"


async def test_unknown_group_is_refused_before_the_quote(world: World, era: str) -> None:
    wrong = str(uuid.uuid4())
    async with await connect(world.server(), era) as client:
        result = await call(client, "order_case", order_args(f"g.{era}@example.com", group=wrong))
    assert result.is_error
    error = result.data["error"]
    assert error["category"] == "invalid_input" and error["field"] == "group"
    for group in world.emu.store.groups:
        assert group.id in error["fix"]
    assert not [r for r in world.ledger().recent(10) if r.entry.outcome == "quoted"]
    assert not world.requests("/api/public/cases/order/")


async def test_unknown_group_is_refused_before_asking_the_user(world: World, era: str) -> None:
    elicit = Elicitation()
    async with await connect(world.server(), era, elicit) as client:
        result = await call(client, "order_case", order_args(f"ge.{era}@example.com", group=str(uuid.uuid4())))
    assert result.is_error and result.data["error"]["field"] == "group"
    assert elicit.messages == [] and not world.requests("/api/public/cases/order/")


async def test_known_group_is_quoted(world: World) -> None:
    group = world.emu.store.groups[0].id
    async with await connect(world.server(), "auto") as client:
        result = await call(client, "order_case", order_args("ok.group@example.com", group=group))
    assert not result.is_error, result.text
    assert result.data["status"] == "confirmation_required" and result.data["order"]["group"] == group


async def test_same_order_with_another_invite_flow_says_what_to_do(world: World) -> None:
    email = "flow@example.com"
    async with await connect(world.server(), "auto") as client:
        quoted = await call(client, "order_case", order_args(email))
        token = quoted.data["confirmation_token"]
        placed = await call(client, "order_case", {**order_args(email), "confirmation_token": token})
        assert placed.data["status"] == "ordered", placed.text
        again = await call(client, "order_case", order_args(email, invite="invite_link"))
        same = await call(client, "order_case", order_args(email))
    ref = placed.data["case"]["ref"]
    assert again.data["status"] == "already_ordered"
    assert "another invite flow" in again.text and "e-mail invitation" in again.text
    assert f"cancel_case {ref}" in again.text and "invite: invite_link" in again.text
    assert any("invite link" in n for n in again.data["notes"])
    assert len(world.requests("/api/public/cases/order/")) == 1
    assert "another invite flow" not in same.text and same.data["status"] == "already_ordered"
