"""The Clearinghouse emulator speaks the documented v2.1 wire format, quirks included."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx2 as httpx
import pytest

from casebridge.providers.clearinghouse import vocab
from casebridge.sandbox.clearinghouse.app import SANDBOX_TOKEN, build
from casebridge.sandbox.clearinghouse.data import BUSY_CASE_ID, HOSTILE_CASE_ID, HOSTILE_CASE_IDS, INJECTION, dataset
from casebridge.sandbox.emulation import Emulator

AUTH = {"Authorization": f"Token {SANDBOX_TOKEN}"}


@pytest.fixture
async def http(emu: Emulator, base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url + "/", headers=AUTH) as client:
        yield client


def decode(cursor: str) -> str:
    return base64.urlsafe_b64decode(cursor.encode()).decode()


async def test_missing_credentials(base_url: str, emu: Emulator) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(base_url + "/cases/?case_type=5039")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


async def test_invalid_token(base_url: str, emu: Emulator) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(base_url + "/cases/", headers={"Authorization": "Token nope"})
    assert response.status_code == 401 and response.json() == {"detail": "Invalid token."}


@pytest.mark.parametrize(
    ("query", "body"),
    [
        ("case_id=1&case_ongoing=5021", ["No results for {'case_id': '1', 'case_ongoing': '5021'}"]),
        ("text=zzznomatch", ["No results for {'text': 'zzznomatch'}"]),
        ("test_key=1", ["API Error: Key: test_key, Value: 1 not found."]),
        ("case_id=xyz", ["API Error: xyz is not an integer."]),
    ],
)
async def test_400_bodies_are_lists_of_strings(http: httpx.AsyncClient, query: str, body: list[str]) -> None:
    response = await http.get(f"cases/?{query}")
    assert response.status_code == 400 and response.json() == body


async def test_no_results_repr_ignores_paging_params(http: httpx.AsyncClient) -> None:
    response = await http.get("cases/?case_type=5039&case_id=1&cursor=cD0x&no_cache=1")
    assert response.json() == ["No results for {'case_type': '5039', 'case_id': '1'}"]


async def test_envelope_and_cursor_format(http: httpx.AsyncClient, base_url: str, page_size: int) -> None:
    response = await http.get("cases/?case_type=5034")
    data = response.json()
    assert set(data) == {"next", "previous", "results"} and data["previous"] is None
    assert len(data["results"]) == page_size
    ids = [case["id"] for case in data["results"]]
    assert ids == sorted(ids, reverse=True)
    next_url = urlsplit(data["next"])
    assert f"{next_url.scheme}://{next_url.netloc}" == base_url.rsplit("/api/", 1)[0]
    assert next_url.path == "/api/v2p1/cases/"
    query = parse_qs(next_url.query)
    assert query["case_type"] == ["5034"] and query["no_cache"] == ["1"]
    assert decode(query["cursor"][0]) == f"p={ids[-1]}"

    second = (await http.get(data["next"])).json()
    previous = parse_qs(urlsplit(second["previous"]).query)
    assert decode(previous["cursor"][0]) == f"r=1&p={second['results'][0]['id']}"
    assert (await http.get(second["previous"])).json()["results"] == data["results"]


async def test_path_with_and_without_trailing_slash(http: httpx.AsyncClient) -> None:
    with_slash = await http.get("cases/?case_type=5039")
    without = await http.get("cases?case_type=5039")
    assert with_slash.status_code == without.status_code == 200
    assert with_slash.json()["results"] == without.json()["results"]


async def test_malformed_cursor(http: httpx.AsyncClient) -> None:
    for cursor in ("not-base64!", "Zm9v", base64.urlsafe_b64encode(b"p=abc").decode()):
        response = await http.get("cases/", params={"cursor": cursor})
        assert response.status_code == 404 and response.json() == {"detail": "Invalid cursor"}


async def test_every_vocabulary_value_matches_some_case(http: httpx.AsyncClient) -> None:
    for name, table in vocab.FILTERS.items():
        for value_id, label in table.items():
            response = await http.get("cases/", params={name: value_id})
            assert response.status_code == 200, (name, value_id)
            case = response.json()["results"][0]
            rendered = case.get(name if name != "case_type" else "case_types")
            if name == "defendant_level":
                rendered = [d["defendant_level"] for d in case["case_defendants"]]
            if isinstance(rendered, list):
                rendered = [r["value"] if isinstance(r, dict) else r for r in rendered]
                assert label in rendered, (name, value_id)
            else:
                assert rendered == label, (name, value_id)


async def test_defendant_level_accepted_under_defendant_type(http: httpx.AsyncClient) -> None:
    as_level = (await http.get("cases/?defendant_level=6152")).json()
    as_type = (await http.get("cases/?defendant_type=6152")).json()
    assert as_level["results"] and as_level["results"] == as_type["results"]


async def test_case_object_renders_labels_and_absolute_urls(http: httpx.AsyncClient, base_url: str) -> None:
    case = (await http.get(f"cases/?case_id={BUSY_CASE_ID}")).json()["results"][0]
    origin = base_url.rsplit("/api/", 1)[0]
    assert case["clearinghouse_link"] == f"{origin}/case/{BUSY_CASE_ID}"
    assert case["case_documents_url"] == f"{base_url}/cases/{BUSY_CASE_ID}/documents/"
    assert case["case_dockets_url"] == f"{base_url}/cases/{BUSY_CASE_ID}/dockets/"
    assert case["case_resources_url"] == f"{base_url}/cases/{BUSY_CASE_ID}/resources/"
    assert all(isinstance(t, str) for t in case["case_types"])
    assert all(set(v) == {"value"} for v in case["defendant_type"] + case["plaintiff_type"])
    assert case["case_status"] in vocab.CASE_STATUS.values()
    assert case["main_docket"]["docket_entries"]
    assert "count" not in (await http.get("cases/")).json()


async def test_state_and_court_fixture_ids(http: httpx.AsyncClient) -> None:
    pr = (await http.get("cases/?state=5853")).json()["results"]
    assert pr and {c["state"] for c in pr} == {"Puerto Rico"}
    cit = (await http.get("cases/?court=1790")).json()["results"]
    assert cit and {c["court"] for c in cit} == {"U. S. Court of International Trade"}


async def test_sub_resources_and_document_text(http: httpx.AsyncClient, page_size: int) -> None:
    docs = (await http.get(f"cases/{BUSY_CASE_ID}/documents/")).json()
    assert len(docs["results"]) == page_size and docs["next"]
    listed = (await http.get("documents/", params={"case_id": BUSY_CASE_ID})).json()
    assert listed["results"] == docs["results"]
    doc = next(d for d in docs["results"] if d["has_text"])
    text = (await http.get(doc["text_url"])).json()
    assert text == {"id": doc["id"], "text": dataset().document_text[doc["id"]]}
    dockets = (await http.get(f"cases/{BUSY_CASE_ID}/dockets")).json()
    assert dockets["results"][0]["docket_entries"]
    resources = (await http.get(f"cases/{BUSY_CASE_ID}/resources/")).json()
    assert resources["results"] and resources["next"] is None
    bare = await http.get("documents/")
    assert bare.status_code == 400 and bare.json() == {"detail": "The 'case' query parameter is required."}
    missing = await http.get("cases/2/documents/")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not found."}


async def test_faults_from_the_shared_middleware(http: httpx.AsyncClient, emu: Emulator) -> None:
    emu.inject(kind="status", status=429, headers={"Retry-After": "7"})
    response = await http.get("cases/")
    assert response.status_code == 429 and response.headers["retry-after"] == "7"
    assert (await http.get("cases/")).status_code == 200


def test_data_covers_the_brief() -> None:
    data = dataset()
    assert len(data.cases) >= 500
    years = {case.body["filing_year"] for case in data.cases}
    assert min(years) < 1980 and max(years) >= 2020
    assert any(case.body["state"] == "Puerto Rico" for case in data.cases)
    assert any(doc["has_text"] for case in data.cases for doc in case.documents)
    assert all(" v. " in case.body["name"] for case in data.cases)


def test_hostile_cases_are_findable() -> None:
    data = dataset()
    assert INJECTION in data.by_id[HOSTILE_CASE_ID].body["summary"]
    assert "\x00" in data.by_id[HOSTILE_CASE_ID].body["summary"]
    assert "\u202e" in data.by_id[HOSTILE_CASE_IDS[1]].body["name"]
    assert len(data.by_id[HOSTILE_CASE_IDS[2]].body["summary"]) > 10_000


def test_data_is_deterministic_and_seeded() -> None:
    a = build().app
    b = build().app
    assert a is not b
    default = dataset()
    assert dataset() is default
    other = dataset(seed=7)
    assert [c.id for c in other.cases] != [c.id for c in default.cases]
    from casebridge.sandbox.clearinghouse.data import _Generator

    fresh = _Generator(2026).run()
    assert [c.body for c in fresh.cases] == [c.body for c in default.cases]
