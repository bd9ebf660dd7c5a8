"""update_case never writes twice: concurrent identical changes, lost answers, racing upserts; and where it is off."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2 as httpx
import pytest

from casebridge.sandbox.commcare import app as commcare
from casebridge.sandbox.commcare.data import dataset
from casebridge.server.oauth import WRITE_TOOLS
from tests.support import Emulators, make_server
from tests.tools.commcare_writes_support import OWNER, V2, CommCareWorld, cc_world
from tests.tools.write_support import Elicitation, World, call, client_for

__all__ = ["cc_world"]

AUTH = {"Authorization": f"ApiKey {commcare.SANDBOX_USERNAME}:{commcare.SANDBOX_API_KEY}"}
CASE = next(c for c in dataset().cases if not c.closed and c.case_type == "patient")
RISK = {"changes": [{"action": "update", "case_id": CASE.case_id, "properties": {"risk_level": "high"}}]}
CREATE = {"changes": [{"action": "create", "case_type": "patient", "case_name": "Lost Answer", "owner_id": OWNER}]}


async def confirm(c: Any, args: dict[str, Any]) -> Any:
    first = await call(c, "update_case", args)
    assert first.data.get("status") == "confirmation_required", first.text
    return await call(c, "update_case", {**args, "confirmation_token": first.data["confirmation_token"]})


async def test_twenty_identical_confirmed_changes_make_one_write(cc_world: CommCareWorld) -> None:
    async for c in client_for(cc_world.server(), "legacy", Elicitation()):
        results = await asyncio.gather(*(call(c, "update_case", RISK) for _ in range(20)))
    assert all(not r.is_error for r in results), [r.text for r in results if r.is_error]
    assert {r.data["status"] for r in results} <= {"written", "already_written", "unchanged"}
    assert len(cc_world.writes()) == 1
    assert sum(r.data["status"] == "written" for r in results) == 1


@pytest.mark.parametrize("args", [RISK, CREATE], ids=["update", "create"])
async def test_a_lost_answer_is_looked_up_not_resent(cc_world: CommCareWorld, args: dict[str, Any]) -> None:
    method = "PUT" if args is RISK else "POST"
    cc_world.emu.inject(kind="lose_response", method=method, path=V2 + (CASE.case_id if args is RISK else ""))
    async for c in client_for(cc_world.server(), "auto"):
        done = await confirm(c, args)
        assert not done.is_error, done.text
        assert done.data["status"] == "written" and "answer was lost" in done.text
        assert done.data["changes"][0]["ref"].startswith("commcare:")
        again = await call(c, "update_case", args)  # the same change once more finds it made
        assert again.data["status"] in ("unchanged", "already_written")
    assert len(cc_world.writes()) == 1
    assert "written" in [r.outcome for r in cc_world.ledger().recent()]


async def test_a_write_that_did_not_arrive_is_reported_then_made_once(cc_world: CommCareWorld) -> None:
    cc_world.emu.inject(kind="drop", method="PUT", path=V2 + CASE.case_id)
    async for c in client_for(cc_world.server(), "auto"):
        unsure = await confirm(c, RISK)
        assert unsure.is_error and unsure.data["error"]["category"] == "may_have_been_placed"
        assert cc_world.ledger().recent()[0].outcome == "uncertain"
        done = await confirm(c, RISK)
        assert done.data["status"] == "written", done.text
    assert len(cc_world.writes()) == 2  # the dropped one never reached the handler
    assert cc_world.emu.app is not None


async def test_racing_upserts_create_one_case(cc_world: CommCareWorld) -> None:
    upsert = {
        "changes": [
            {
                "action": "upsert",
                "external_id": "PAT-9100",
                "case_type": "patient",
                "case_name": "Race",
                "owner_id": OWNER,
            }
        ]
    }
    async for c in client_for(cc_world.server(), "legacy", Elicitation()):
        results = await asyncio.gather(*(call(c, "update_case", upsert) for _ in range(5)))
        assert all(not r.is_error for r in results), [r.text for r in results]
    assert len(cc_world.writes()) == 1
    found = httpx.get(cc_world.url + V2 + "ext/PAT-9100/", headers=AUTH)
    assert found.status_code == 200, found.text  # one case: several would be a 400


async def test_not_offered_where_it_should_be_off(cc_world: CommCareWorld, world: World) -> None:
    async def names(server: Any) -> set[str]:
        async for c in client_for(server, "auto"):
            return {t.name for t in (await c.list_tools()).tools}
        raise AssertionError

    assert "update_case" in await names(cc_world.server())
    assert "update_case" not in await names(cc_world.server(read_only=True))
    assert "update_case" not in await names(cc_world.server(commcare_writes="off"))
    assert "update_case" not in await names(world.server())  # Certn only: no CommCare credentials
    assert "update_case" in WRITE_TOOLS  # OAuth callers without cases:write are not offered it (server/oauth.py)


def test_commcare_writes_off_keeps_certn_orders(emulators: Emulators) -> None:
    server = make_server(emulators, commcare_writes="OFF")
    tools = {t.name for t in asyncio.run(server.list_tools())}
    assert "order_case" in tools and "update_case" not in tools
