"""The v0.5 path below the tools: the emulator's v0.5-only mode and seed parameters, and the client's
v2 probe and v0.5-to-v2 case shape."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx2 as httpx
import pytest

from casebridge.providers.commcare.client import CommCareClient
from casebridge.providers.errors import NotFound
from casebridge.providers.http import HttpPolicy
from casebridge.sandbox.commcare.app import SANDBOX_API_KEY, SANDBOX_DOMAIN, SANDBOX_USERNAME, build
from casebridge.sandbox.commcare.data import dataset
from casebridge.sandbox.emulation import LoopbackServer, serve

AUTH = {"Authorization": f"ApiKey {SANDBOX_USERNAME}:{SANDBOX_API_KEY}"}
V05 = f"/a/{SANDBOX_DOMAIN}/api/v0.5/case/"
V2 = f"/a/{SANDBOX_DOMAIN}/api/case/v2/"
DATA = dataset()


@pytest.fixture(scope="module")
def v05_only() -> Iterator[LoopbackServer]:
    emulator = build(v2=False)
    assert emulator.app is not None
    with serve(emulator.app) as server:
        yield server


def connect(server: LoopbackServer, case_api: str = "auto") -> CommCareClient:
    return CommCareClient.connect(
        server.url, SANDBOX_USERNAME, SANDBOX_API_KEY, SANDBOX_DOMAIN, policy=HttpPolicy(attempts=1), case_api=case_api
    )


def test_v05_only_mode_has_no_v2_routes(v05_only: LoopbackServer) -> None:
    with httpx.Client(base_url=v05_only.url, headers=AUTH) as http:
        for path in (V2, V2 + DATA.cases[0].case_id, V2 + "ext/PAT-01000/"):
            r = http.get(path)
            assert (r.status_code, r.content) == (404, b""), path
        body = http.get(V05, params={"limit": 3}).json()
        assert body["meta"]["total_count"] == len(DATA.cases) and len(body["objects"]) == 3
        assert http.get(V05 + DATA.cases[0].case_id + "/").json()["case_id"] == DATA.cases[0].case_id
        assert http.get(V2 + "x", headers={"Authorization": "ApiKey nobody:wrong"}).status_code == 401


def test_seed_parameters_filter_as_the_seed_says(commcare_server: LoopbackServer) -> None:
    case = DATA.cases[100]
    stamp = case.indexed_on.astimezone(UTC).replace(tzinfo=None)
    with httpx.Client(base_url=commcare_server.url, headers=AUTH) as http:
        mine = http.get(V05, params={"user_id": case.user_id, "limit": 5000}).json()
        assert {o["case_id"] for o in mine["objects"]} == {c.case_id for c in DATA.cases if c.user_id == case.user_id}
        # A date-time bound is exact to the second: the case indexed at that moment is in, or just out.
        at = stamp.isoformat(timespec="seconds")
        since = http.get(V05, params={"indexed_on_start": at, "limit": 5000}).json()["meta"]["total_count"]
        assert since == sum(c.indexed_on >= datetime.fromisoformat(at).replace(tzinfo=UTC) for c in DATA.cases)
        newest = http.get(V05, params={"order_by": "-server_date_modified", "limit": 3}).json()["objects"]
        top = sorted(DATA.cases, key=lambda c: (c.server_date_modified, c.case_id), reverse=True)[:3]
        assert [o["case_id"] for o in newest] == [c.case_id for c in top]


async def test_probe_finds_a_v05_only_server_once(v05_only: LoopbackServer) -> None:
    client = connect(v05_only)
    try:
        assert client.has_v2 is None and not client.uses_v05
        assert await client.probe_v2() is False and client.uses_v05
        assert await client.probe_v2() is False  # remembered: no second request
    finally:
        await client.aclose()


async def test_pinned_apis_never_probe(v05_only: LoopbackServer) -> None:
    pinned_v2, pinned_v05 = connect(v05_only, "v2"), connect(v05_only, "v0.5")
    try:
        assert await pinned_v2.probe_v2() is True and not pinned_v2.uses_v05
        assert pinned_v05.uses_v05
        with pytest.raises(NotFound):
            await pinned_v2.get_case_v2(DATA.cases[0].case_id)
    finally:
        await pinned_v2.aclose()
        await pinned_v05.aclose()
    with pytest.raises(ValueError):
        CommCareClient.connect("http://x", "u", "k", "d", case_api="v3")


async def test_v05_case_in_the_v2_shape(client: CommCareClient) -> None:
    case = next(c for c in DATA.cases if c.case_type == "patient" and c.external_id)
    v05, v2 = await client.get_case_v05(case.case_id), await client.get_case_v2(case.case_id)
    same = v05.to_v2()
    for name in ("case_id", "case_type", "case_name", "external_id", "owner_id", "closed", "properties", "indices"):
        assert getattr(same, name) == getattr(v2, name), name
    for name in ("last_modified", "server_last_modified", "indexed_on", "date_closed"):
        assert getattr(same, name) == getattr(v2, name), name
    assert same.date_opened is not None and v2.date_opened is not None
    assert same.date_opened.replace(microsecond=0) == v2.date_opened.replace(microsecond=0)
