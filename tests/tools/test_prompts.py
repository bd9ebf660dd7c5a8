"""Workflow prompts: offered per configured provider, rendered with arguments, completed from provider values."""

from __future__ import annotations

import re

import pytest
from mcp import Client
from mcp.types import CompletionArgument, PromptReference

from casebridge.providers.clearinghouse import vocab as clearinghouse_vocab
from casebridge.tools.prompts import Completer
from casebridge.tools.registry import SourceRegistry
from tests.support import Emulators, make_server

WRITE_TOOLS = {"order_case", "cancel_case", "generate_report"}
TOOL_NAME = re.compile(r"\b(search_cases|get_case|order_case|cancel_case|generate_report)\b")


async def listing(emulators: Emulators, era: str = "auto", **settings: object) -> tuple[set[str], set[str]]:
    async with Client(make_server(emulators, **settings), mode=era) as client:  # type: ignore[arg-type]
        prompts = {p.name for p in (await client.list_prompts()).prompts}
        tools = {t.name for t in (await client.list_tools()).tools}
    return prompts, tools


async def test_prompts_follow_the_configuration(emulators: Emulators, era: str) -> None:
    prompts, tools = await listing(emulators, era)
    expected = {"research_litigation", "review_client_record"}
    if tools >= WRITE_TOOLS:  # the background check needs the Certn write tools
        expected.add("background_check")
    assert prompts == expected

    read_only, _ = await listing(emulators, era, read_only=True)
    assert read_only == {"research_litigation", "review_client_record"}

    only_clearinghouse, _ = await listing(emulators, era, commcare_api_key=None, certn_api_key=None)
    assert only_clearinghouse == {"research_litigation"}


async def test_no_provider_no_prompts(emulators: Emulators) -> None:
    prompts, _ = await listing(emulators, clearinghouse_api_token=None, commcare_api_key=None, certn_api_key=None)
    assert prompts == set()


async def test_prompts_render_and_name_only_offered_tools(emulators: Emulators, era: str) -> None:
    arguments = {
        "research_litigation": {"topic": "solitary confinement", "case_type": "Prison Conditions"},
        "review_client_record": {"client": "Amina Diallo", "case_type": "patient"},
        "background_check": {"applicant_email": "jane@example.com", "checks": "Criminal record check"},
    }
    async with Client(make_server(emulators), mode=era) as client:  # type: ignore[arg-type]
        tools = {t.name for t in (await client.list_tools()).tools}
        listed = (await client.list_prompts()).prompts
        for prompt in listed:
            assert prompt.description and prompt.title
            assert [a.name for a in prompt.arguments or [] if a.required] == [next(iter(arguments[prompt.name]))]
            result = await client.get_prompt(prompt.name, arguments[prompt.name])
            text = result.messages[0].content.text  # type: ignore[union-attr]
            assert len(text) < 1200, "prompts stay short"
            for value in arguments[prompt.name].values():
                assert value in text
            assert set(TOOL_NAME.findall(text)) <= tools, prompt.name


async def test_completions_come_from_provider_values(emulators: Emulators, era: str) -> None:
    async with Client(make_server(emulators), mode=era) as client:  # type: ignore[arg-type]
        ref = PromptReference(type="ref/prompt", name="research_litigation")
        done = (await client.complete(ref, {"name": "case_type", "value": "pri"})).completion
        assert done.values == ["Prison Conditions"]
        everything = (await client.complete(ref, {"name": "case_type", "value": ""})).completion
        assert set(everything.values) == set(clearinghouse_vocab.CASE_TYPE.values())
        level = (await client.complete(ref, {"name": "defendant_level", "value": "coun"})).completion
        assert level.values == ["County"]

        commcare = PromptReference(type="ref/prompt", name="review_client_record")
        types = (await client.complete(commcare, {"name": "case_type", "value": ""})).completion
        assert types.values, "case types are read from the CommCare project"
        assert all(re.fullmatch(r"[A-Za-z0-9_-]+", v) for v in types.values)

        nothing = (await client.complete(ref, {"name": "topic", "value": "x"})).completion
        assert nothing.values == []


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("cri", ["Criminal record check"]), ("Credit report, id", ["Credit report, Identity verification"])],
)
async def test_check_list_completion_completes_the_last_item(typed: str, expected: list[str]) -> None:
    completer = Completer(SourceRegistry())
    ref = PromptReference(type="ref/prompt", name="background_check")
    result = await completer(ref, CompletionArgument(name="checks", value=typed), None)
    assert result is not None and result.values == expected
