"""get_case and the case:// resources for every provider, both eras."""

from __future__ import annotations

import pytest
from mcp import Client

from tests.support import text_of


async def first_ref(client: Client, provider: str, **filters: object) -> str:
    args: dict[str, object] = {"provider": provider, "limit": 1}
    if filters:
        args[provider] = filters
    result = await client.call_tool("search_cases", args)
    assert not result.is_error, text_of(result)
    return str(result.structured_content["cases"][0]["ref"])


@pytest.mark.parametrize(
    ("provider", "include"),
    [("clearinghouse", ["documents", "dockets", "resources"]), ("commcare", ["parent"]), ("certn", ["supplementary"])],
)
async def test_detail_with_includes(client: Client, provider: str, include: list[str]) -> None:
    ref = await first_ref(client, provider, **({"case_type": "patient"} if provider == "commcare" else {}))
    result = await client.call_tool("get_case", {"ref": ref, "include": include})
    assert not result.is_error, text_of(result)
    detail = result.structured_content
    assert detail["ref"] == ref and detail["provider"] == provider and detail["title"]
    assert ref in text_of(result)
    if provider == "commcare":
        assert detail["parent"]["ref"].startswith("commcare:")
    else:
        for name in include:
            assert name in detail["sections"]
    if provider == "certn":
        assert detail["sections"]["checks"]


async def test_children_of_a_household(client: Client) -> None:
    ref = await first_ref(client, "commcare", case_type="household")
    result = await client.call_tool("get_case", {"ref": ref, "include": ["children"]})
    assert not result.is_error, text_of(result)
    children = result.structured_content["related"]
    assert children and all(c["ref"].startswith("commcare:") for c in children)


@pytest.mark.parametrize(
    ("ref", "words"),
    [
        ("clearinghouse:abc", "positive integer"),
        ("certn:123", "UUID"),
        ("nowhere:1", "unknown provider"),
        ("15150", "not a case ref"),
        ("", "not a case ref"),
    ],
)
async def test_malformed_refs(client: Client, ref: str, words: str) -> None:
    result = await client.call_tool("get_case", {"ref": ref})
    assert result.is_error
    assert words in text_of(result)
    assert result.structured_content["error"]["category"] == "invalid_input"


@pytest.mark.parametrize(
    "ref", ["clearinghouse:999999999", "certn:00000000-0000-4000-8000-000000000000", "commcare:doesnotexist123"]
)
async def test_unknown_case_is_not_found(client: Client, ref: str) -> None:
    result = await client.call_tool("get_case", {"ref": ref})
    assert result.is_error, text_of(result)
    assert result.structured_content["error"]["category"] == "not_found"


async def test_include_not_offered_by_provider(client: Client) -> None:
    ref = await first_ref(client, "certn")
    result = await client.call_tool("get_case", {"ref": ref, "include": ["documents"]})
    assert result.is_error
    assert "documents not available for certn" in text_of(result)


@pytest.mark.parametrize("provider", ["clearinghouse", "commcare", "certn"])
async def test_case_resource_reads_the_same_detail(client: Client, provider: str) -> None:
    ref = await first_ref(client, provider)
    case_id = ref.split(":", 1)[1]
    contents = await client.read_resource(f"case://{provider}/{case_id}")
    text = contents.contents[0].text  # type: ignore[union-attr]
    assert ref in text
    templates = await client.list_resource_templates()
    assert f"case://{provider}/{{id}}" in {t.uri_template for t in templates.resource_templates}
