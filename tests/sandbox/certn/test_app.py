"""The Certn emulator over a real socket: auth, routes, pagination, filters, detail and supplementary data."""

from __future__ import annotations

from datetime import date

import httpx2 as httpx
import pytest

from casebridge.sandbox.certn.app import SANDBOX_API_KEY, CertnEmulator, build
from casebridge.sandbox.emulation import serve

AUTH = {"Authorization": f"Api-Key {SANDBOX_API_KEY}"}


@pytest.fixture
def http(emu: CertnEmulator, base_url: str) -> httpx.Client:
    with httpx.Client(base_url=base_url, headers=AUTH, timeout=5) as c:
        yield c


def all_ids(http: httpx.Client, params: list[tuple[str, str]]) -> list[str]:
    ids: list[str] = []
    page = 1
    while True:
        r = http.get("/api/public/cases/", params=[*params, ("page", str(page)), ("page_size", "100")])
        assert r.status_code == 200, r.text
        body = r.json()
        ids += [c["id"] for c in body["results"]]
        if body["pagination"]["next_page"] is None:
            return ids
        page = body["pagination"]["next_page"]


# ------------------------------------------------------------------------------ auth and routes


def test_missing_and_wrong_key_are_401(base_url: str, emu: CertnEmulator) -> None:
    for headers in ({}, {"Authorization": "Api-Key nope"}, {"Authorization": f"Bearer {SANDBOX_API_KEY}"}):
        r = httpx.get(f"{base_url}/api/public/cases/", headers=headers)
        assert r.status_code == 401
        body = r.json()
        assert body["type"] == "client_error"
        assert body["errors"][0]["code"] == "not_authenticated"
        assert body["errors"][0]["attr"] is None


def test_unknown_route_and_method(http: httpx.Client) -> None:
    r = http.get("/api/public/nothing/")
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == "not_found"
    r = http.get("/api/public/cases")  # no trailing slash: no redirect
    assert r.status_code == 404
    r = http.delete("/api/public/groups/")
    assert r.status_code == 405 and r.json()["errors"][0]["code"] == "method_not_allowed"


# ---------------------------------------------------------------------------------- pagination


def test_pagination_block_and_default_page_size(http: httpx.Client, emu: CertnEmulator) -> None:
    total = len(emu.store.cases)
    body = http.get("/api/public/cases/").json()
    assert body["pagination"] == {
        "result_count": total,
        "page_count": -(-total // 10),
        "page_size": 10,
        "current_page": 1,
        "next_page": 2,
        "previous_page": None,
    }
    assert len(body["results"]) == 10
    last = body["pagination"]["page_count"]
    body = http.get("/api/public/cases/", params={"page": last}).json()
    assert body["pagination"]["next_page"] is None and body["pagination"]["previous_page"] == last - 1
    assert len(body["results"]) == total - 10 * (last - 1)


def test_newest_first(http: httpx.Client) -> None:
    results = http.get("/api/public/cases/", params={"page_size": 50}).json()["results"]
    created = [c["created"] for c in results]
    assert created == sorted(created, reverse=True)


@pytest.mark.parametrize("page", ["999", "0", "-1", "abc"])
def test_bad_page_is_404_invalid_page(http: httpx.Client, page: str) -> None:
    r = http.get("/api/public/cases/", params={"page": page})
    assert r.status_code == 404
    assert r.json() == {
        "type": "client_error",
        "errors": [{"code": "not_found", "detail": "Invalid page.", "attr": None}],
    }


@pytest.mark.parametrize(("size", "code"), [("101", "max_value"), ("0", "min_value"), ("x", "invalid")])
def test_bad_page_size_is_400(http: httpx.Client, size: str, code: str) -> None:
    r = http.get("/api/public/cases/", params={"page_size": size})
    assert r.status_code == 400
    body = r.json()
    assert body["type"] == "validation_error"
    assert body["errors"][0]["code"] == code and body["errors"][0]["attr"] == "page_size"


def test_page_size_100_allowed_and_empty_result_is_page_one(http: httpx.Client) -> None:
    assert len(http.get("/api/public/cases/", params={"page_size": 100}).json()["results"]) == 100
    body = http.get("/api/public/cases/", params={"email_address": "nobody@example.com"}).json()
    assert body["results"] == [] and body["pagination"]["result_count"] == 0
    assert body["pagination"]["page_count"] == 1


# ------------------------------------------------------------------------------------- filters


def test_overall_status_repeated_keys_are_or(http: httpx.Client, emu: CertnEmulator) -> None:
    ids = all_ids(http, [("overall_status", "CANCELLED"), ("overall_status", "IN_DISPUTE")])
    expected = [c.id for c in emu.store.ordered() if c.overall_status in ("CANCELLED", "IN_DISPUTE")]
    assert ids == expected and ids
    sent = [r for r in emu.requests if r.path == "/api/public/cases/"][-1]
    assert sent.params("overall_status") == ["CANCELLED", "IN_DISPUTE"]


def test_deprecated_status_filter(http: httpx.Client, emu: CertnEmulator) -> None:
    ids = all_ids(http, [("overall_status", "PENDING_QUALITY_REVIEW")])
    assert ids == [c.id for c in emu.store.ordered() if c.overall_status == "PENDING_QUALITY_REVIEW"]


def test_unknown_status_is_400_invalid_choice(http: httpx.Client) -> None:
    r = http.get("/api/public/cases/", params={"overall_status": "DONE"})
    assert r.status_code == 400
    err = r.json()["errors"][0]
    assert err["code"] == "invalid_choice" and err["attr"] == "overall_status" and "DONE" in err["detail"]


def test_filters_are_and_across(http: httpx.Client, emu: CertnEmulator) -> None:
    group = emu.store.groups[1].id
    params = [
        ("overall_status", "COMPLETE"),
        ("check_type", "CRIMINAL_RECORD_REPORT_1"),
        ("check_type", "CREDIT_REPORT_1"),
        ("group", group),
    ]
    ids = all_ids(http, params)
    expected = [
        c.id
        for c in emu.store.ordered()
        if c.overall_status == "COMPLETE"
        and c.group == group
        and {k.type for k in c.checks} & {"CRIMINAL_RECORD_REPORT_1", "CREDIT_REPORT_1"}
    ]
    assert ids == expected and ids


def test_tag_group_email_ordered_by(http: httpx.Client, emu: CertnEmulator) -> None:
    cases = emu.store.ordered()
    ids = all_ids(http, [("tag", "driver"), ("tag", "rehire")])
    assert ids == [c.id for c in cases if {"driver", "rehire"} & set(c.tags)] and ids

    g1, g2 = emu.store.groups[0].id, emu.store.groups[2].id
    ids = all_ids(http, [("group", g1), ("group", g2)])
    assert ids == [c.id for c in cases if c.group in (g1, g2)] and ids

    target = cases[17]
    ids = all_ids(http, [("email_address", target.email_address.upper())])
    assert ids == [target.id]

    user = emu.store.users[1]
    by_email = all_ids(http, [("ordered_by", user["email"])])
    by_id = all_ids(http, [("ordered_by", user["id"])])
    assert by_email == by_id == [c.id for c in cases if c.ordered_by["id"] == user["id"]]


def test_unknown_group_is_400(http: httpx.Client) -> None:
    r = http.get("/api/public/cases/", params={"group": "not-a-group"})
    assert r.status_code == 400 and r.json()["errors"][0]["attr"] == "group"


def test_order_timeframe_is_inclusive(http: httpx.Client, emu: CertnEmulator) -> None:
    after, before = date(2025, 1, 1), date(2025, 3, 31)
    ids = all_ids(http, [("order_timeframe_after", after.isoformat()), ("order_timeframe_before", before.isoformat())])
    assert ids == [c.id for c in emu.store.ordered() if after <= c.created.date() <= before] and ids
    day = emu.store.ordered()[40].created.date()
    same_day = all_ids(http, [("order_timeframe_after", day.isoformat()), ("order_timeframe_before", day.isoformat())])
    assert emu.store.ordered()[40].id in same_day
    r = http.get("/api/public/cases/", params={"order_timeframe_after": "01/02/2025"})
    assert r.status_code == 400 and r.json()["errors"][0]["attr"] == "order_timeframe_after"


def test_unknown_filters_are_ignored(http: httpx.Client, emu: CertnEmulator) -> None:
    body = http.get("/api/public/cases/", params={"colour": "blue"}).json()
    assert body["pagination"]["result_count"] == len(emu.store.cases)


# ----------------------------------------------------------------------------------- detail etc


def test_case_detail(http: httpx.Client, emu: CertnEmulator) -> None:
    case = emu.store.ordered()[3]
    body = http.get(f"/api/public/cases/{case.id}/").json()
    assert body["id"] == case.id and body["short_id"].startswith("C_CA_")
    assert body["overall_status"] == case.overall_status
    assert {"created", "modified", "email_address", "group", "tags", "input_claims"} <= set(body)
    assert body["created"].endswith("Z")
    assert [k["id"] for k in body["checks"]] == [k.id for k in case.checks]
    assert set(body["checks"][0]) >= {"id", "short_id", "type", "status", "score", "sub_score", "adjudication_score"}
    assert "ordered_by" not in body


@pytest.mark.parametrize("case_id", ["0b7c8d6e-0000-4000-8000-000000000000", "not-a-uuid", "123"])
def test_unknown_case_is_404(http: httpx.Client, case_id: str) -> None:
    for suffix in ("", "supplementary-information/", "supplementary-files/"):
        r = http.get(f"/api/public/cases/{case_id}/{suffix}")
        assert r.status_code == 404
        assert r.json()["errors"][0]["code"] == "not_found"


def test_supplementary_only_for_closed_checks(http: httpx.Client, emu: CertnEmulator) -> None:
    mixed = next(
        c
        for c in emu.store.ordered()
        if any(k.status == "COMPLETE" for k in c.checks) and any(not k.closed for k in c.checks)
    )
    info = http.get(f"/api/public/cases/{mixed.id}/supplementary-information/").json()
    files = http.get(f"/api/public/cases/{mixed.id}/supplementary-files/").json()
    assert info["id"] == files["id"] == mixed.id
    for check, i, f in zip(mixed.checks, info["checks"], files["checks"], strict=True):
        assert i["id"] == f["id"] == check.id
        if check.status == "COMPLETE":
            assert i["supplementary_information"]
            assert f["supplementary_files"] and f["supplementary_files"][0]["name"].endswith(".pdf")
        elif not check.closed:
            assert i["supplementary_information"] is None
            assert f["supplementary_files"] == []


def test_file_links_are_presigned_and_expire_after_3_hours(base_url: str) -> None:
    now = [0.0]
    emu = build(clock=lambda: now[0])
    case = next(c for c in emu.store.ordered() if c.overall_status == "COMPLETE")
    with serve(emu.app) as server, httpx.Client(base_url=server.url, headers=AUTH) as http:
        files = http.get(f"/api/public/cases/{case.id}/supplementary-files/").json()
        url = next(f["url"] for k in files["checks"] for f in k["supplementary_files"])
        assert url.startswith(server.url) and "X-Amz-Expires=10800" in url and "X-Amz-Signature=" in url
        r = httpx.get(url)
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        now[0] += 3 * 3600 + 1
        assert httpx.get(url).status_code == 403


def test_groups(http: httpx.Client, emu: CertnEmulator) -> None:
    body = http.get("/api/public/groups/").json()
    assert body["pagination"]["result_count"] == len(emu.store.groups)
    assert [g["id"] for g in body["results"]] == [g.id for g in emu.store.groups]
    assert all(g["short_id"].startswith("CG_CA_") and g["name"] for g in body["results"])
    body = http.get("/api/public/groups/", params={"page_size": 2, "page": 2}).json()
    assert body["pagination"]["current_page"] == 2 and len(body["results"]) == 2
    assert http.get("/api/public/groups/", params={"page": 9}).status_code == 404
