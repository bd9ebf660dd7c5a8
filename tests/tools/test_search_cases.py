"""search_cases over the in-memory client, both protocol eras, against the emulators on loopback."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from tests.support import Emulators, make_server, text_of

FIRST_PAGE_ARGS = {
    "clearinghouse": {"provider": "clearinghouse"},
    "commcare": {"provider": "commcare", "commcare": {"case_type": "patient"}},
    "certn": {"provider": "certn"},
}


async def call(client: Client, args: dict[str, Any]) -> Any:
    return await client.call_tool("search_cases", args)


@pytest.mark.parametrize("provider", ["clearinghouse", "commcare", "certn"])
async def test_cursor_walks_three_pages_without_gaps(client: Client, provider: str) -> None:
    result = await call(client, {**FIRST_PAGE_ARGS[provider], "limit": 7})
    seen: list[str] = []
    for _ in range(3):
        assert not result.is_error, text_of(result)
        data = result.structured_content
        assert data["provider"] == provider
        assert len(data["cases"]) == 7
        seen.extend(c["ref"] for c in data["cases"])
        assert data["truncated"] and data["next_cursor"]
        # The text rendering is one line per case and carries each ref.
        for case in data["cases"]:
            assert case["ref"] in text_of(result)
        result = await call(client, {"cursor": data["next_cursor"], "limit": 7})
    assert len(seen) == len(set(seen)) == 21
    assert all(ref.startswith(provider + ":") for ref in seen)


async def test_cursor_pages_match_one_big_page(client: Client) -> None:
    args = {"provider": "commcare", "commcare": {"case_type": "household"}}
    big = await call(client, {**args, "limit": 30})
    refs: list[str] = []
    result = await call(client, {**args, "limit": 10})
    while len(refs) < 30:
        refs.extend(c["ref"] for c in result.structured_content["cases"])
        result = await call(client, {"cursor": result.structured_content["next_cursor"], "limit": 10})
    assert refs == [c["ref"] for c in big.structured_content["cases"]]


async def test_label_or_id_give_the_same_results(client: Client) -> None:
    by_label = await call(client, {"provider": "clearinghouse", "clearinghouse": {"case_type": "prison conditions"}})
    by_id = await call(client, {"provider": "clearinghouse", "clearinghouse": {"case_type": 5034}})
    assert not by_label.is_error, text_of(by_label)
    assert by_label.structured_content["cases"] == by_id.structured_content["cases"]
    assert by_label.structured_content["cases"]


async def test_enum_filter_reaches_the_provider_as_its_id(client: Client, emulators: Emulators) -> None:
    await call(client, {"clearinghouse": {"defendant_level": "School District"}})
    sent = emulators["clearinghouse"].requests[-1]
    assert sent.params("defendant_level") == ["6152"]


@pytest.mark.parametrize(
    ("args", "field", "words"),
    [
        (
            {"provider": "clearinghouse", "clearinghouse": {"case_type": "prisn conditons"}},
            "case_type",
            "Prison Conditions",
        ),
        ({"provider": "clearinghouse", "limit": 0}, "limit", "greater than or equal to 1"),
        ({"provider": "clearinghouse", "limit": 10_000}, "limit", "less than or equal to 50"),
        ({"provider": "clearinghouse", "limit": "ten"}, "limit", "integer"),
        ({"provider": "nowhere"}, "provider", "'clearinghouse'"),
        ({"provider": "certn", "clearinghouse": {"text": "jail"}}, "clearinghouse", "provider is certn"),
        ({"cursor": "garbage!!"}, "cursor", "cursor"),
        ({"provider": "clearinghouse", "clearinghouse": {"bogus": 1}}, "bogus", "Extra inputs"),
    ],
)
async def test_bad_input_is_an_actionable_error(
    client: Client, emulators: Emulators, args: dict[str, Any], field: str, words: str
) -> None:
    before = sum(len(e.requests) for e in emulators.emulators.values())
    result = await call(client, args)
    assert result.is_error
    text = text_of(result)
    assert "invalid_input" in text and field in text and words in text
    assert "Error executing tool" not in text
    error = result.structured_content["error"]
    assert error["category"] == "invalid_input" and error["retryable"] is False and error["fix"]
    assert sum(len(e.requests) for e in emulators.emulators.values()) == before  # nothing reached a provider


async def test_cursor_of_another_search_cannot_change_filters(client: Client) -> None:
    first = await call(client, {"provider": "certn", "limit": 2})
    cursor = first.structured_content["next_cursor"]
    result = await call(client, {"cursor": cursor, "certn": {"email": "x@example.com"}})
    assert result.is_error and "filters cannot change" in text_of(result)
    result = await call(client, {"cursor": cursor, "provider": "commcare"})
    assert result.is_error and "belongs to a certn search" in text_of(result)


async def test_no_results_is_an_empty_page_not_an_error(client: Client) -> None:
    result = await call(client, {"provider": "clearinghouse", "clearinghouse": {"text": "zzznomatchzzz"}})
    assert not result.is_error, text_of(result)
    assert result.structured_content["cases"] == []
    assert result.structured_content.get("next_cursor") is None
    assert result.structured_content["truncated"] is False


async def test_unconfigured_provider_says_how_to_configure(emulators: Emulators, era: str) -> None:
    server = make_server(emulators, certn_api_key=None)
    async with Client(server, mode=era) as client:  # type: ignore[arg-type]
        result = await call(client, {"provider": "certn"})
    assert result.is_error
    assert result.structured_content["error"]["category"] == "not_configured"
    assert "CERTN_API_KEY" in text_of(result)


@pytest.mark.parametrize(
    ("provider", "fault", "category", "retryable"),
    [
        (
            "clearinghouse",
            {"kind": "status", "status": 429, "times": 9, "headers": {"Retry-After": "90"}},
            "rate_limited",
            True,
        ),
        ("commcare", {"kind": "status", "status": 503, "times": 9}, "provider_unavailable", True),
        ("certn", {"kind": "html", "status": 502, "times": 9}, "provider_unavailable", True),
        ("commcare", {"kind": "malformed", "times": 9}, "malformed_response", True),
        (
            "certn",
            {
                "kind": "status",
                "status": 401,
                "times": 9,
                "body": {
                    "type": "client_error",
                    "errors": [{"code": "not_authenticated", "detail": "Invalid API key.", "attr": None}],
                },
            },
            "authentication",
            False,
        ),
    ],
)
async def test_provider_failures_become_typed_results(
    client: Client, emulators: Emulators, provider: str, fault: dict[str, Any], category: str, retryable: bool
) -> None:
    emulators[provider].inject(**fault)
    result = await call(client, {"provider": provider, "limit": 2})
    assert result.is_error, text_of(result)
    error = result.structured_content["error"]
    assert (error["category"], error["retryable"], error["provider"]) == (category, retryable, provider)
    if category == "rate_limited":
        assert error["retry_after_seconds"] == 90
    emulators[provider].reset()
    again = await call(client, {"provider": provider, "limit": 2})
    assert not again.is_error, text_of(again)  # the server answers the next call normally


async def test_missing_required_argument_is_named(client: Client) -> None:
    result = await client.call_tool("get_case", {})
    assert result.is_error
    error = result.structured_content["error"]
    assert error["field"] == "ref" and "required, but not given" in error["message"]


@pytest.mark.parametrize(("provider", "size"), [("certn", 50), ("commcare", 13), ("clearinghouse", 12)])
async def test_cursor_alone_keeps_the_page_size(client: Client, provider: str, size: int) -> None:
    first = await call(client, {**FIRST_PAGE_ARGS[provider], "limit": size})
    second = await call(client, {"cursor": first.structured_content["next_cursor"]})
    assert not second.is_error, text_of(second)
    assert len(second.structured_content["cases"]) == size
    # A limit given with the cursor changes the page size, and the next cursor keeps the new one.
    third = await call(client, {"cursor": second.structured_content["next_cursor"], "limit": 4})
    fourth = await call(client, {"cursor": third.structured_content["next_cursor"]})
    assert len(third.structured_content["cases"]) == len(fourth.structured_content["cases"]) == 4
    refs = [c["ref"] for r in (first, second, third, fourth) for c in r.structured_content["cases"]]
    assert len(refs) == len(set(refs)) == 2 * size + 8
