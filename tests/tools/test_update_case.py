"""update_case: each request of issue 18 as one confirmed call, in both eras, token and elicitation flows."""

from __future__ import annotations

from typing import Any

import pytest

from casebridge.sandbox.commcare.data import dataset
from casebridge.server.ledger_base import format_table
from tests.support import ERAS
from tests.tools.commcare_writes_support import OWNER, CommCareWorld, cc_world
from tests.tools.write_support import Elicitation, call, client_for

__all__ = ["cc_world"]

CASE = next(c for c in dataset().cases if not c.closed and c.case_type == "patient")
ELIZABETH = {
    "action": "create",
    "case_type": "patient",
    "case_name": "Elizabeth Harrison",
    "owner_id": OWNER,
    "properties": {"dob": "1990-02-14"},
}
REQUESTS: dict[str, list[dict[str, Any]]] = {
    "create": [ELIZABETH],
    "set risk_level": [{"action": "update", "case_id": CASE.case_id, "properties": {"risk_level": "high"}}],
    "close": [{"action": "update", "case_id": f"commcare:{CASE.case_id}", "close": True}],
    "upsert": [
        {
            "action": "upsert",
            "external_id": "PAT-7001",
            "case_type": "patient",
            "case_name": "Elizabeth Harrison",
            "owner_id": OWNER,
        }
    ],
    "bulk create": [
        {"action": "create", "case_type": "household", "case_name": f"Household {n}", "owner_id": OWNER} for n in (1, 2)
    ],
}


async def confirmed(world: CommCareWorld, era: str, changes: list[dict[str, Any]]) -> Any:
    async for c in client_for(world.server(), era):
        first = await call(c, "update_case", {"changes": changes})
        assert not first.is_error, first.text
        assert first.data["status"] == "confirmation_required" and not world.writes()
        token = first.data["confirmation_token"]
        done = await call(c, "update_case", {"changes": changes, "confirmation_token": token})
        again = await call(c, "update_case", {"changes": changes, "confirmation_token": token})
        # A repeat finds the change made: an identical write recorded, or cases that already say so.
        assert not again.is_error and again.data["status"] in ("already_written", "unchanged"), again.text
        return first, done
    raise AssertionError


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("request_name", list(REQUESTS))
async def test_each_request_is_one_confirmed_call(cc_world: CommCareWorld, era: str, request_name: str) -> None:
    changes = REQUESTS[request_name]
    first, done = await confirmed(cc_world, era, changes)
    assert "CONFIRMATION NEEDED" in first.text and "->" in first.text
    assert not done.is_error, done.text
    assert done.data["status"] == "written"
    assert len(cc_world.writes()) == 1  # one write, a bulk of two included
    refs = [c["ref"] for c in done.data["changes"]]
    assert all(r and r.startswith("commcare:") for r in refs)
    if request_name == "close":
        assert "CLOSE" in first.text
        assert cc_world.writes()[0].json() == {"close": True}
    if request_name == "set risk_level":
        assert cc_world.writes()[0].json() == {"properties": {"risk_level": "high"}}
        assert cc_world.writes()[0].method == "PUT"
    if request_name == "upsert":
        assert cc_world.writes()[0].path.endswith("/ext/PAT-7001/")
    if request_name == "bulk create":
        body = cc_world.writes()[0].json()
        assert isinstance(body, list) and [r["create"] for r in body] == [True, True]
    rows = cc_world.ledger().recent()
    written = [r for r in rows if r.outcome == "written"]
    assert len(written) == 1 and written[0].entry.provider == "commcare"
    assert "1990-02-14" not in str(written[0].entry.request)  # default policy: field names, no values
    assert "update_case" in format_table(rows)


@pytest.mark.parametrize("era", ERAS)
async def test_elicitation_confirms_and_declines(cc_world: CommCareWorld, era: str) -> None:
    changes = REQUESTS["set risk_level"]
    ask = Elicitation()
    async for c in client_for(cc_world.server(), era, ask):
        done = await call(c, "update_case", {"changes": changes})
        assert done.data["status"] == "written", done.text
        assert "risk_level" in ask.messages[0] and "Make these changes?" in ask.messages[0]
    assert len(cc_world.writes()) == 1
    no = Elicitation(action="decline")
    other = {"changes": [{"action": "update", "case_id": CASE.case_id, "properties": {"risk_level": "low"}}]}
    async for c in client_for(cc_world.server(), era, no):
        refused = await call(c, "update_case", other)
        assert refused.data["status"] == "not_written"
    assert len(cc_world.writes()) == 1


async def test_nothing_changes_writes_nothing(cc_world: CommCareWorld) -> None:
    name = {"changes": [{"action": "update", "case_id": CASE.case_id, "case_name": CASE.case_name}]}
    async for c in client_for(cc_world.server(), "auto"):
        same = await call(c, "update_case", name)
        assert not same.is_error and same.data["status"] == "unchanged"
        assert "already have these values" in same.text
    assert not cc_world.writes()


async def test_token_is_bound_to_the_exact_change(cc_world: CommCareWorld) -> None:
    changes = REQUESTS["set risk_level"]
    async for c in client_for(cc_world.server(), "legacy"):
        first = await call(c, "update_case", {"changes": changes})
        other = [{**changes[0], "properties": {"risk_level": "low"}}]
        wrong = await call(c, "update_case", {"changes": other, "confirmation_token": first.data["confirmation_token"]})
        assert wrong.is_error and "differs" in wrong.text
    assert not cc_world.writes()


async def test_errors_name_each_bulk_entry(cc_world: CommCareWorld) -> None:
    changes = [
        REQUESTS["create"][0],
        {"action": "update", "case_id": "0000aaaa-0000-0000-0000-000000000000", "properties": {"a": "b"}},
        {"action": "create", "case_type": "patient", "case_name": "No owner"},
    ]
    async for c in client_for(cc_world.server(), "auto"):
        bad = await call(c, "update_case", {"changes": changes})
        assert bad.is_error
        error = bad.data["error"]
        assert error["field"] == "changes[1]"
        assert "changes[1]: no case with id" in bad.text and "changes[2]: owner_id needed" in bad.text
        assert "The other 1 entries are valid" in bad.text
    assert not cc_world.writes()


async def test_commcare_rejection_of_a_bulk_row_says_nothing_was_written(cc_world: CommCareWorld) -> None:
    cc_world.emu.inject(
        kind="status",
        method="POST",
        path="/a/casebridge-sandbox/api/case/v2/",
        status=400,
        body={"error": "Error in row 1: 'case_name' must be a string"},
    )
    changes = REQUESTS["bulk create"]
    async for c in client_for(cc_world.server(), "auto"):
        first = await call(c, "update_case", {"changes": changes})
        done = await call(
            c, "update_case", {"changes": changes, "confirmation_token": first.data["confirmation_token"]}
        )
        assert done.is_error and done.data["error"]["field"] == "changes[1]"
        assert "Nothing was changed" in done.text and "all at once" in done.text
    assert cc_world.ledger().recent()[0].outcome == "failed"


async def test_multiple_external_id_matches_are_refused(cc_world: CommCareWorld) -> None:
    dupes = next(k for k, v in dataset().by_external_id.items() if len(v) > 1)
    change = {"changes": [{"action": "upsert", "external_id": dupes, "properties": {"x": "1"}}]}
    async for c in client_for(cc_world.server(), "auto"):
        bad = await call(c, "update_case", change)
        assert bad.is_error and "several cases have this external_id" in bad.text
    assert not cc_world.writes()
