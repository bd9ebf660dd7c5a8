"""Invisible and control characters are refused in every field that reaches a confirmation or a provider."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from mcp import Client

from tests.support import Emulators, hold
from tests.tools.write_support import ORDER, Elicitation, World, call

# Zero-width, bidi override and isolate, ESC, tag characters, BOM, C1, NUL, line breaks, soft hyphen.
HIDDEN = [
    "\u200b",
    "\u200d",
    "\u202e",
    "\u2066",
    "\u2060",
    "\ufeff",
    "\x1b",
    "\x7f",
    "\x85",
    "\x00",
    "\n",
    "\t",
    "\u2028",
    "\u00ad",
    "\U000e0041",
    "\U000e007f",
]

ORDER_ARGS: dict[str, Any] = {
    "applicant": {
        "email": "ana.roy@example.com",
        "given_name": "Ana",
        "family_name": "Roy",
        "date_of_birth": "1990-01-01",
        "address": {"street": "1 Main St", "city": "Ottawa", "region": "ON", "postal_code": "K1A 0B1", "country": "CA"},
    },
    "invite": "quickscreen",
    "check_types": ["IDENTITY_VERIFICATION_1"],
    "tags": ["onboarding"],
}
# (path into the arguments, the field the error must name)
ORDER_FIELDS = [
    (("applicant", "email"), "applicant.email"),
    (("applicant", "given_name"), "applicant.given_name"),
    (("applicant", "family_name"), "applicant.family_name"),
    (("applicant", "address", "street"), "applicant.address.street"),
    (("applicant", "address", "city"), "applicant.address.city"),
    (("applicant", "address", "region"), "applicant.address.region"),
    (("applicant", "address", "postal_code"), "applicant.address.postal_code"),
    (("tags", 0), "tags.0"),
]


def with_hidden(args: dict[str, Any], path: tuple[Any, ...], char: str) -> dict[str, Any]:
    out = copy.deepcopy(args)
    node: Any = out
    for key in path[:-1]:
        node = node[key]
    value = node[path[-1]]
    # In the middle, so whitespace stripping cannot hide it.
    node[path[-1]] = value[:2] + char + value[2:]
    return out


def assert_refused(result: Any, field: str, char: str) -> None:
    assert result.is_error, result.text
    error = result.data["error"]
    assert error["category"] == "invalid_input", error
    assert error["field"] == field, error
    assert f"contains an invisible or control character (U+{ord(char):04X})" in error["message"], error


@pytest.mark.parametrize("char", HIDDEN, ids=lambda c: f"U+{ord(c):04X}")
async def test_order_case_refuses_hidden_characters_in_every_field(world: World, era: str, char: str) -> None:
    asked = Elicitation()
    async with hold(Client(world.server(), mode=era, elicitation_callback=asked)) as client:
        for path, field in ORDER_FIELDS:
            assert_refused(await call(client, "order_case", with_hidden(ORDER_ARGS, path, char)), field, char)
        token = await call(client, "order_case", {**ORDER_ARGS, "confirmation_token": f"cb1{char}.order"})
        assert_refused(token, "confirmation_token", char)
    assert asked.messages == []  # the user was never shown such a value
    assert world.requests(ORDER) == []


@pytest.mark.parametrize("char", HIDDEN, ids=lambda c: f"U+{ord(c):04X}")
async def test_cancel_and_report_refuse_hidden_characters_in_refs(world: World, era: str, char: str) -> None:
    ref = "certn:" + "4c0ffee0-bad0-4bad-8bad-0123456789ab"
    hidden = ref[:8] + char + ref[8:]
    async with hold(Client(world.server(), mode=era)) as client:
        for tool in ("cancel_case", "generate_report", "get_case"):
            assert_refused(await call(client, tool, {"ref": hidden}), "ref", char)
        token = await call(client, "cancel_case", {"ref": ref, "confirmation_token": f"cb1.{char}"})
        assert_refused(token, "confirmation_token", char)
    assert [r for r in world.emu.requests if r.method == "POST"] == []


SEARCH_FIELDS: list[tuple[str, dict[str, Any], str]] = [
    ("certn", {"email": "ana@example.com"}, "certn.email"),
    ("certn", {"tags": ["onboarding"]}, "certn.tags.0"),
    ("clearinghouse", {"text": "prison conditions"}, "clearinghouse.text"),
    ("commcare", {"name": "Rose Das"}, "commcare.name"),
    ("commcare", {"case_type": "patient"}, "commcare.case_type"),
    ("commcare", {"owner_id": "abc123"}, "commcare.owner_id"),
    ("commcare", {"external_id": "PAT-01000"}, "commcare.external_id"),
    ("commcare", {"properties": {"village": "Rampur"}}, "commcare.properties.village"),
]


def hide_in_filter(filters: dict[str, Any], char: str) -> dict[str, Any]:
    ((key, value),) = filters.items()
    if isinstance(value, list):
        return {key: [value[0][:2] + char + value[0][2:]]}
    if isinstance(value, dict):
        ((name, text),) = value.items()
        return {key: {name: text[:2] + char + text[2:]}}
    return {key: value[:2] + char + value[2:]}


@pytest.mark.parametrize("char", HIDDEN, ids=lambda c: f"U+{ord(c):04X}")
async def test_search_filters_refuse_hidden_characters(client: Client, emulators: Emulators, char: str) -> None:
    for provider, filters, field in SEARCH_FIELDS:
        result = await client.call_tool("search_cases", {"provider": provider, provider: hide_in_filter(filters, char)})
        error = (result.structured_content or {}).get("error", {})
        assert result.is_error and error["category"] == "invalid_input", (provider, filters, result)
        assert error["field"] == field, error
        assert f"(U+{ord(char):04X})" in error["message"], error
    assert all(emulators[p].requests == [] for p in ("certn", "clearinghouse", "commcare"))


def test_visible_text_passes_and_every_listed_invisible_range_is_refused() -> None:
    from casebridge.tools.text import first_invisible

    for ok in ("Zoë Ångström", "李小龙", "O'Brien-Smith", "ana+tag@example.com", "🙂 Montréal", "K1A 0B1"):
        assert first_invisible(ok) is None, ok
    ranges = [(0x00, 0x1F), (0x7F, 0x9F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x2064), (0x2066, 0x2069)]
    ranges += [(0xFEFF, 0xFEFF), (0xE0000, 0xE007F), (0x2028, 0x2029)]
    for low, high in ranges:
        for point in range(low, high + 1):
            assert first_invisible(f"ab{chr(point)}cd") == chr(point), hex(point)
