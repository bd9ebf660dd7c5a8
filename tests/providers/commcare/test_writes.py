"""CommCare v2 writes: the emulator's endpoints as the fact sheet has them, and the client's error mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from casebridge.providers.commcare.client import CommCareClient
from casebridge.providers.commcare.writes import CommCareWriter
from casebridge.providers.errors import NotFound, Rejected, Unavailable
from casebridge.sandbox.commcare.app import SANDBOX_API_KEY, SANDBOX_DOMAIN, SANDBOX_USERNAME, build
from casebridge.sandbox.commcare.data import dataset
from casebridge.sandbox.emulation import Emulator, LoopbackServer
from tests.providers.commcare.conftest import FAST

OWNER = "4fa8e3c7e8e14c5f9bd1e2f6c3a0d9b1"
NEW = {"case_type": "patient", "case_name": "Elizabeth Harrison", "owner_id": OWNER, "external_id": "PAT-5001"}


@pytest.fixture
async def fresh() -> AsyncIterator[tuple[Emulator, CommCareWriter]]:
    """A private emulator per test: writes change its cases."""
    emu = build()
    server = LoopbackServer(emu.app).start()  # type: ignore[arg-type]
    client = CommCareClient.connect(server.url, SANDBOX_USERNAME, SANDBOX_API_KEY, SANDBOX_DOMAIN, policy=FAST)
    yield emu, CommCareWriter(client)
    await client.aclose()
    server.stop()


async def test_create_is_not_an_upsert_and_ext_put_is(fresh: tuple[Emulator, CommCareWriter]) -> None:
    _, writer = fresh
    first = await writer.create({**NEW, "properties": {"dob": "1990-02-14"}})
    second = await writer.create(NEW)
    assert first.case_id != second.case_id  # a second case with the same external id
    with pytest.raises(Rejected) as multiple:
        await writer.upsert("PAT-5001", {"properties": {"x": "1"}})
    assert multiple.value.field == "external_id" and "Multiple cases found" in multiple.value.message
    created = await writer.upsert("PAT-5002", {**NEW, "external_id": "PAT-5002"})
    updated = await writer.upsert("PAT-5002", {"properties": {"risk_level": "high"}})
    assert created.case_id == updated.case_id and updated.properties["risk_level"] == "high"
    assert (await writer.client.get_case_by_external_id("PAT-5002")).case_id == created.case_id


async def test_update_and_close(fresh: tuple[Emulator, CommCareWriter]) -> None:
    _, writer = fresh
    case = next(c for c in dataset().cases if not c.closed)
    after = await writer.update(case.case_id, {"properties": {"risk_level": "high"}, "close": True})
    assert after.closed and after.properties["risk_level"] == "high"
    assert after.case_name == case.case_name  # only what was sent changes
    assert not next(c for c in dataset().cases if c.case_id == case.case_id).closed  # the shared seed is untouched


async def test_update_of_a_missing_case_is_not_found(fresh: tuple[Emulator, CommCareWriter]) -> None:
    _, writer = fresh
    with pytest.raises(NotFound) as missing:
        await writer.update("0000aaaa-0000-0000-0000-000000000000", {"case_name": "x"})
    assert missing.value.status == 400 and missing.value.field == "case_id"


async def test_bulk_rules(fresh: tuple[Emulator, CommCareWriter]) -> None:
    _, writer = fresh
    rows = [{**NEW, "external_id": f"HH-{n}", "case_type": "household", "create": True} for n in range(2)]
    cases = await writer.bulk(rows)
    assert [c.external_id for c in cases] == ["HH-0", "HH-1"]
    with pytest.raises(Rejected) as bad_row:
        await writer.bulk([rows[0], {**rows[1], "properties": {"age": 3}}])  # property values are strings
    assert bad_row.value.field == "changes[1]" and "Error in row 1" in bad_row.value.message
    assert len(await writer.find(external_id=["HH-0"])) == 1  # all or nothing: row 0 was not written again


async def test_bulk_limit_and_create_flag_on_the_wire(fresh: tuple[Emulator, CommCareWriter]) -> None:
    _, writer = fresh
    http, base = writer.client.http, writer._base
    too_many = await http.post(base, json=[{**NEW, "create": True}] * 101)
    assert too_many.status_code == 400 and "more than 100" in too_many.json()["error"]
    no_flag = await http.put(base, json=[NEW])
    assert no_flag.status_code == 400 and no_flag.json()["error"] == "A 'create' flag is required for each update."
    array_ext = await http.put(base + "ext/PAT-1/", json=[NEW])
    assert array_ext.json() == {"error": "Payload must be a single JSON object"}
    unknown = await http.post(base, json={**NEW, "foo": 1})
    assert unknown.json() == {"error": "'foo' is not a valid field."}
    ok = await http.post(base, json=NEW)
    assert ok.status_code == 200 and set(ok.json()) == {"form_id", "case"}


async def test_a_lost_write_answer_may_have_been_sent(fresh: tuple[Emulator, CommCareWriter]) -> None:
    emu, writer = fresh
    emu.inject(kind="lose_response", method="POST", path=f"/a/{SANDBOX_DOMAIN}/api/case/v2/")
    with pytest.raises(Unavailable) as lost:
        await writer.create(NEW)
    assert lost.value.maybe_sent
    assert len([r for r in emu.requests if r.method == "POST"]) == 1  # never retried
    assert len(await writer.find(external_id=["PAT-5001"])) == 1  # it was written
