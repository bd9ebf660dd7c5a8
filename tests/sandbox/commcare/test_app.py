"""The CommCare emulator's wire behaviour, checked with raw HTTP on a loopback socket."""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx2 as httpx
import pytest

from casebridge.sandbox.commcare.app import SANDBOX_API_KEY, SANDBOX_DOMAIN, SANDBOX_USERNAME, build
from casebridge.sandbox.commcare.data import DUPLICATE_EXTERNAL_ID, NOW, _Gen, dataset
from casebridge.sandbox.emulation import LoopbackServer, serve

AUTH = {"Authorization": f"ApiKey {SANDBOX_USERNAME}:{SANDBOX_API_KEY}"}
V05 = f"/a/{SANDBOX_DOMAIN}/api/v0.5/case/"
V2 = f"/a/{SANDBOX_DOMAIN}/api/case/v2/"
DATA = dataset()


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


@pytest.fixture
def http(commcare_server: LoopbackServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=commcare_server.url, headers=AUTH) as c:
        yield c


def get(http: httpx.Client, path: str, params: Any = None) -> Any:
    r = http.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


# -- data ----------------------------------------------------------------------------------------


def test_dataset_shape() -> None:
    types = Counter(c.case_type for c in DATA.cases)
    assert len(DATA.cases) >= 2000
    assert {"household", "patient", "pregnancy"} <= set(types)
    assert len({c.owner_id for c in DATA.cases}) == 40
    assert any(c.closed for c in DATA.cases) and any(not c.closed for c in DATA.cases)
    assert {c.date_opened.year for c in DATA.cases} >= {2021, 2022, 2023, 2024, 2025}
    assert all(c.indexed_on <= NOW.replace(microsecond=999_999) for c in DATA.cases)
    for case in DATA.cases:
        if case.case_type == "patient":
            assert DATA.by_id[case.indices["parent"]["case_id"]].case_type == "household"
        if case.case_type == "pregnancy":
            assert "edd" in case.properties
            assert DATA.by_id[case.indices["parent"]["case_id"]].case_type == "household"
        assert all(isinstance(v, str) for v in case.properties.values())
    assert [k for k, v in DATA.by_external_id.items() if len(v) > 1] == [DUPLICATE_EXTERNAL_ID]


def test_dataset_is_deterministic() -> None:
    again = _Gen(2026).build()
    assert [c.case_id for c in again.cases] == [c.case_id for c in DATA.cases]
    assert again.cases[100] == DATA.cases[100]
    assert [c.case_id for c in _Gen(7).build().cases][:5] != [c.case_id for c in DATA.cases][:5]


# -- auth ----------------------------------------------------------------------------------------


def test_missing_or_wrong_key_is_401_without_json(commcare_server: LoopbackServer) -> None:
    for headers in ({}, {"Authorization": f"ApiKey {SANDBOX_USERNAME}:wrong"}, {"Authorization": "Bearer x"}):
        r = httpx.get(commcare_server.url + V2, headers=headers)
        assert r.status_code == 401
        assert r.content == b""
        assert "WWW-Authenticate" in r.headers


def test_wrong_domain_is_403_empty(http: httpx.Client) -> None:
    r = http.get("/a/other-project/api/case/v2/")
    assert r.status_code == 403
    assert r.content == b""


def test_methods_v2_lacks_are_405(http: httpx.Client) -> None:
    # POST and PUT are the v2 writes (tests/providers/commcare/test_writes.py); the rest are refused.
    for method in ("DELETE", "PATCH"):
        r = http.request(method, V2, json={"case_type": "patient"})
        assert r.status_code == 405
        assert r.json() == {"error": "Request method not allowed"}


# -- v0.5 ----------------------------------------------------------------------------------------


def test_v05_envelope_and_default_order(http: httpx.Client) -> None:
    body = get(http, V05)
    meta = body["meta"]
    assert set(meta) == {"limit", "next", "offset", "previous", "total_count"}
    assert meta["limit"] == 20 and meta["offset"] == 0 and meta["previous"] is None
    assert meta["total_count"] == len(DATA.cases)
    assert meta["next"].startswith(V05 + "?") and "offset=20" in meta["next"]
    objects = body["objects"]
    assert len(objects) == 20
    first = objects[0]
    assert first["id"] == first["case_id"]
    assert {"case_name", "case_type", "date_opened", "owner_id"} <= set(first["properties"])
    assert "case_type" not in first and "owner_id" not in first
    modified = [ts(o["server_date_modified"]) for o in objects]
    assert modified == sorted(modified)
    assert modified[0] == min(c.server_date_modified for c in DATA.cases)

    nxt = get(http, meta["next"])
    assert nxt["meta"]["offset"] == 20
    assert nxt["meta"]["previous"] is not None and "offset=0" in nxt["meta"]["previous"]
    assert not {o["case_id"] for o in objects} & {o["case_id"] for o in nxt["objects"]}


def test_v05_next_keeps_filters_and_ends(http: httpx.Client) -> None:
    body = get(http, V05, {"type": "referral", "limit": 25})
    assert body["meta"]["total_count"] == 60
    assert "type=referral" in body["meta"]["next"]
    page = get(http, body["meta"]["next"])
    page = get(http, page["meta"]["next"])
    assert page["meta"]["next"] is None
    assert len(page["objects"]) == 10


def test_v05_filters(http: httpx.Client) -> None:
    owner = DATA.cases[0].owner_id
    body = get(http, V05, {"owner_id": owner, "type": "patient", "closed": "false", "limit": 5000})
    expected = [c for c in DATA.cases if c.owner_id == owner and c.case_type == "patient" and not c.closed]
    assert body["meta"]["total_count"] == len(expected) > 0
    assert {o["case_id"] for o in body["objects"]} == {c.case_id for c in expected}

    alias = get(http, V05, {"case_type": "patient", "owner_id": owner, "closed": "false", "limit": 5000})
    assert alias["meta"]["total_count"] == len(expected)

    target = DATA.by_external_id["PAT-01000"][0]
    assert [o["case_id"] for o in get(http, V05, {"external_id": "PAT-01000"})["objects"]] == [target.case_id]
    by_name = get(http, V05, {"name": target.case_name, "limit": 5000})["objects"]
    assert target.case_id in {o["case_id"] for o in by_name}
    assert all(o["properties"]["case_name"] == target.case_name for o in by_name)


def test_v05_date_ranges_and_order(http: httpx.Client) -> None:
    body = get(
        http,
        V05,
        {"indexed_on_start": "2023-01-01", "indexed_on_end": "2023-06-30", "order_by": "-indexed_on", "limit": 5000},
    )
    got = [ts(o["indexed_on"]) for o in body["objects"]]
    assert got == sorted(got, reverse=True)
    lo, hi = datetime(2023, 1, 1, tzinfo=UTC), datetime(2023, 7, 1, tzinfo=UTC)
    assert len(got) == sum(lo <= c.indexed_on < hi for c in DATA.cases) > 0
    # The seed's example carries a trailing Z; that is accepted. Real offsets are not.
    assert get(http, V05, {"date_modified_start": "2013-09-29T10:40Z"})["meta"]["total_count"] == len(DATA.cases)
    for bad in ("2021-01-01T06:05:42+02:00", "yesterday", "2021-13-01"):
        r = http.get(V05, params={"server_date_modified_start": bad})
        assert r.status_code == 400
        assert "error" in r.json()


def test_v05_unknown_param_is_a_filter_not_an_error(http: httpx.Client) -> None:
    rampur = sum(c.properties.get("village") == "Rampur" for c in DATA.cases)
    assert get(http, V05, {"village": "Rampur"})["meta"]["total_count"] == rampur
    assert get(http, V05, {"foo": "bar"})["meta"]["total_count"] == 0


def test_v05_limits(http: httpx.Client) -> None:
    for params in ({"limit": 5001}, {"limit": "ten"}, {"offset": -1}, {"closed": "maybe"}, {"order_by": "case_name"}):
        r = http.get(V05, params=params)
        assert r.status_code == 400, params
        assert isinstance(r.json()["error"], str)
    assert len(get(http, V05, {"limit": 5000})["objects"]) == len(DATA.cases)


def test_v05_detail_and_related(http: httpx.Client) -> None:
    household = next(c for c in DATA.cases if c.case_type == "household" and DATA.children.get(c.case_id))
    body = get(http, V05 + household.case_id + "/", {"child_cases__full": "true"})
    assert body["case_id"] == household.case_id
    assert set(body["child_cases"]) == {c.case_id for c in DATA.children[household.case_id]}
    child = DATA.children[household.case_id][0]
    body = get(http, V05 + child.case_id + "/", {"parent_cases__full": "true"})
    assert household.case_id in body["parent_cases"]
    r = http.get(V05 + "no-such-case/")
    assert r.status_code == 404
    assert r.content == b""


# -- v2 ------------------------------------------------------------------------------------------


def test_v2_envelope_and_next(http: httpx.Client, commcare_server: LoopbackServer) -> None:
    body = get(http, V2)
    assert body["matching_records"] == sum(not c.deprecated for c in DATA.cases)
    assert len(body["cases"]) == 20
    assert body["next"].startswith(f"{commcare_server.url}{V2}?cursor=")
    case = body["cases"][0]
    assert {"case_name", "case_type", "owner_id", "external_id", "date_opened", "indices"} <= set(case)
    assert "case_name" not in case["properties"]
    indexed = [ts(c["indexed_on"]) for c in body["cases"]]
    assert indexed == sorted(indexed)
    last = get(http, V2, {"case_type": "referral", "limit": 100})
    assert last["matching_records"] == 60 and "next" not in last


def test_v2_cursor_walk_needs_no_filters(http: httpx.Client) -> None:
    params = {"case_type": "pregnancy", "closed": "false", "limit": 40}
    body = get(http, V2, params)
    seen = [c["case_id"] for c in body["cases"]]
    pages = 1
    while "next" in body:
        body = get(http, body["next"])  # the next URL alone: no filters re-sent
        seen += [c["case_id"] for c in body["cases"]]
        pages += 1
    expected = [c.case_id for c in DATA.cases if c.case_type == "pregnancy" and not c.closed]
    assert pages >= 3
    assert seen == expected


def test_v2_cursor_is_opaque_json_and_checked(http: httpx.Client) -> None:
    body = get(http, V2, {"limit": 1})
    token = httpx.URL(body["next"]).params["cursor"]
    decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    assert decoded["l"] == 1
    r = http.get(V2, params={"cursor": "not-a-cursor"})
    assert r.status_code == 400


def test_v2_unknown_param_and_bad_datetime(http: httpx.Client) -> None:
    r = http.get(V2, params={"foo": "1"})
    assert r.status_code == 400
    assert r.json() == {"error": "'foo' is not a valid parameter."}
    r = http.get(V2, params={"last_modified.gte": "yesterday"})
    assert r.status_code == 400
    assert r.json() == {"error": "Cannot parse datetime 'yesterday'"}
    for params in ({"limit": 5001}, {"limit": 0}, {"fields": "case_name", "exclude": "properties"}, {"query": "x"}):
        r = http.get(V2, params=params)
        assert r.status_code == 400, params


def test_v2_or_and_properties_indices(http: httpx.Client) -> None:
    both = get(http, V2, [("case_type", "referral"), ("case_type", "pregnancy"), ("limit", 1)])
    assert both["matching_records"] == 310
    anded = get(http, V2, [("case_type", "pregnancy"), ("properties.risk_level", "high")])
    assert anded["matching_records"] == sum(
        c.case_type == "pregnancy" and c.properties["risk_level"] == "high" for c in DATA.cases
    )
    blank = get(http, V2, {"case_type": "patient", "properties.risk_level": ""})
    assert (
        blank["matching_records"]
        == sum(c.case_type == "patient" and not c.properties.get("risk_level") for c in DATA.cases)
        > 0
    )
    unset = get(http, V2, {"case_type": "household", "properties.edd": ""})
    assert unset["matching_records"] == 620
    household = next(c for c in DATA.cases if c.case_type == "household" and len(DATA.children[c.case_id]) >= 2)
    kids = get(http, V2, {"indices.parent": household.case_id})
    assert {c["case_id"] for c in kids["cases"]} == {c.case_id for c in DATA.children[household.case_id]}
    assert all(c["indices"]["parent"]["case_id"] == household.case_id for c in kids["cases"])


def test_v2_date_ranges_accept_offsets(http: httpx.Client) -> None:
    body = get(
        http, V2, {"date_opened.gte": "2024-01-01T00:00:00+05:30", "date_opened.lt": "2024-02-01", "limit": 5000}
    )
    lo = datetime.fromisoformat("2024-01-01T00:00:00+05:30")
    hi = datetime(2024, 2, 1, tzinfo=UTC)
    expected = {c.case_id for c in DATA.cases if lo <= c.date_opened < hi and not c.deprecated}
    assert {c["case_id"] for c in body["cases"]} == expected and expected
    # A bare date as lte covers the whole day.
    day = get(http, V2, {"date_closed.gte": "2025-05-01", "date_closed.lte": "2025-05-31", "limit": 5000})
    expected = {
        c.case_id
        for c in DATA.cases
        if c.date_closed and c.date_closed.date().isoformat().startswith("2025-05") and not c.deprecated
    }
    assert {c["case_id"] for c in day["cases"]} == expected


def test_v2_deprecated_and_fields(http: httpx.Client) -> None:
    assert get(http, V2, {"case_type": "legacy_visit"})["matching_records"] == 0
    assert get(http, V2, {"case_type": "legacy_visit", "include_deprecated": "yes"})["matching_records"] == 40
    slim = get(http, V2, [("fields", "case_name"), ("fields", "properties.village"), ("case_type", "household")])
    assert set(slim["cases"][0]) == {"case_name", "properties"}
    assert set(slim["cases"][0]["properties"]) == {"village"}
    rest = get(http, V2, {"exclude": "properties", "limit": 1})
    assert "properties" not in rest["cases"][0] and "case_id" in rest["cases"][0]


def test_v2_single_bulk_and_ext(http: httpx.Client) -> None:
    case = DATA.cases[10]
    assert get(http, V2 + case.case_id)["case_id"] == case.case_id
    assert get(http, V2 + case.case_id + "/")["case_id"] == case.case_id
    r = http.get(V2 + "nope-nope")
    assert r.status_code == 404
    assert r.json() == {"error": "Case 'nope-nope' not found"}

    bulk = get(http, V2 + f"{case.case_id},missing-1,{DATA.cases[11].case_id}")
    assert bulk["matching_records"] == 2 and bulk["missing_records"] == 1
    assert [c["case_id"] for c in bulk["cases"]] == [case.case_id, "missing-1", DATA.cases[11].case_id]
    assert bulk["cases"][1] == {"case_id": "missing-1", "error": "not found"}

    assert get(http, V2 + "ext/PAT-01000/")["external_id"] == "PAT-01000"
    assert http.get(V2 + "ext/PAT-01000").status_code == 404  # the trailing slash is required
    assert http.get(V2 + "ext/NO-SUCH/").status_code == 404
    r = http.get(V2 + f"ext/{DUPLICATE_EXTERNAL_ID}/")
    assert r.status_code == 400
    assert r.json()["error"].startswith(f"Multiple cases found with external_id '{DUPLICATE_EXTERNAL_ID}': ")


def test_throttle_answers_429_with_retry_after() -> None:
    emu = build(throttle=True, throttle_requests=3, throttle_window=60.0)
    assert emu.app is not None
    with serve(emu.app) as server, httpx.Client(base_url=server.url, headers=AUTH) as http:
        for _ in range(3):
            assert http.get(V2, params={"limit": 1}).status_code == 200
        r = http.get(V2, params={"limit": 1})
        assert r.status_code == 429
        assert r.content == b""
        assert 1 <= int(r.headers["Retry-After"]) <= 60
