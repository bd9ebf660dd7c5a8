"""Privacy by default: masking with honest labels, CommCare properties by name, filters on masked data, reveals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from pydantic import ValidationError

from casebridge.sandbox.commcare.data import CaseRecord, dataset
from casebridge.server.ledger import format_table
from casebridge.tools.privacy import DEFAULT_SENSITIVE_PROPERTIES, PrivacyPolicy
from tests.support import ERAS, Emulators, make_server, text_of


def patient_with_phone() -> CaseRecord:
    return next(c for c in dataset(2026).cases if c.case_type == "patient" and c.properties.get("phone_number"))


def everything(result: Any) -> str:
    return text_of(result) + "\n" + json.dumps(result.structured_content)


async def call(emulators: Emulators, tool: str, args: dict[str, Any], era: str = "auto", **settings: Any) -> Any:
    async with Client(make_server(emulators, **settings), mode=era) as client:  # type: ignore[arg-type]
        return await client.call_tool(tool, args)


def test_the_policy_comes_from_the_settings(emulators: Emulators) -> None:
    assert emulators.settings().privacy_policy() == PrivacyPolicy()
    assert PrivacyPolicy().level == "standard" and PrivacyPolicy().sensitive_properties >= {"dob", "phone_number"}
    chosen = emulators.settings(
        casebridge_privacy="STRICT",
        commcare_sensitive_properties="village, Risk_Level",
        commcare_hidden_properties="diagnosis",
        casebridge_allow_reveal="all",
    ).privacy_policy()
    assert chosen.level == "strict"
    assert chosen.sensitive_properties == {"village", "risk_level"}
    assert chosen.hidden_properties == {"diagnosis"}
    assert chosen.reveal_providers == {"clearinghouse", "commcare", "certn"}
    assert len(DEFAULT_SENSITIVE_PROPERTIES) > 10
    for bad in (
        {"casebridge_privacy": "lenient"},
        {"commcare_hidden_properties": "ok, not a name!"},
        {"casebridge_allow_reveal": "salesforce"},
    ):
        with pytest.raises(ValidationError):
            emulators.settings(**bad)


@pytest.mark.parametrize("era", ERAS)
async def test_standard_masks_date_of_birth_and_phone_with_labels(emulators: Emulators, era: str) -> None:
    case = patient_with_phone()
    dob, phone = case.properties["dob"], case.properties["phone_number"]
    result = await call(emulators, "get_case", {"ref": f"commcare:{case.case_id}"}, era)
    assert not result.is_error, text_of(result)
    facts = result.structured_content["facts"]
    assert facts["properties.dob"] == f"{dob[:4]}-**-** (masked: date of birth)"
    assert facts["properties.phone_number"].endswith(phone[-2:] + " (masked: phone number)")
    assert f"properties.dob: {dob[:4]}-**-** (masked: date of birth)" in text_of(result)
    assert dob not in everything(result) and phone not in everything(result)
    assert facts["properties.village"] == case.properties["village"]  # not personal: shown
    assert result.structured_content["title"] == case.case_name  # names are masked only under strict
    assert "Masked by this server's privacy policy (standard): properties.dob, properties.phone_number" in text_of(
        result
    )


async def test_off_is_the_unmasked_behaviour(emulators: Emulators) -> None:
    case = patient_with_phone()
    result = await call(emulators, "get_case", {"ref": f"commcare:{case.case_id}"}, casebridge_privacy="off")
    assert result.structured_content["facts"]["properties.dob"] == case.properties["dob"]
    assert case.properties["phone_number"] in text_of(result)
    assert "masked" not in everything(result)


async def test_strict_masks_names_in_search_rows_and_details(emulators: Emulators) -> None:
    case = patient_with_phone()
    args = {"provider": "commcare", "commcare": {"external_id": case.external_id}}
    found = await call(emulators, "search_cases", args, casebridge_privacy="strict")
    first, last = case.case_name.split()
    assert found.structured_content["cases"][0]["title"] == f"{first[0]}. {last[0]}. (masked: name)"
    assert case.case_name not in everything(found)
    detail = await call(emulators, "get_case", {"ref": f"commcare:{case.case_id}"}, casebridge_privacy="strict")
    assert case.case_name not in everything(detail)
    standard = await call(emulators, "search_cases", args)
    assert standard.structured_content["cases"][0]["title"] == case.case_name


async def test_properties_by_name_masked_or_hidden(emulators: Emulators) -> None:
    case = patient_with_phone()
    settings = {"commcare_sensitive_properties": "village", "commcare_hidden_properties": "sex,risk_level"}
    result = await call(emulators, "get_case", {"ref": f"commcare:{case.case_id}"}, **settings)
    facts = result.structured_content["facts"]
    assert facts["properties.village"] == "*** (masked: sensitive field)"
    assert case.properties["village"] not in everything(result)
    assert "properties.sex" not in facts and "properties.sex" not in text_of(result)
    assert "properties.risk_level" not in facts
    assert "2 case properties are not shown (hidden by this server's privacy policy)." in text_of(result)
    # The list replaces the default, but a field named as a birth date is still one (pattern masking).
    assert facts["properties.dob"] == case.properties["dob"][:4] + "-**-** (masked: date of birth)"


async def test_a_filter_on_a_hidden_property_is_refused_and_sends_nothing(emulators: Emulators) -> None:
    case = patient_with_phone()
    settings = {"commcare_hidden_properties": "risk_level"}
    for filters in ({"properties": {"risk_level": "high"}}, {"show_properties": ["risk_level"]}):
        before = len(emulators["commcare"].requests)
        args = {"provider": "commcare", "commcare": {"case_type": case.case_type, **filters}}
        result = await call(emulators, "search_cases", args, **settings)
        assert result.is_error and result.structured_content["error"]["category"] == "invalid_input"
        assert "hidden" in result.structured_content["error"]["message"]
        assert len(emulators["commcare"].requests) == before  # the provider was never asked


async def test_filters_work_on_masked_data(emulators: Emulators) -> None:
    case = patient_with_phone()
    props = {"dob": case.properties["dob"], "village": case.properties["village"]}
    result = await call(emulators, "search_cases", {"provider": "commcare", "commcare": {"properties": props}})
    assert not result.is_error, text_of(result)
    assert f"commcare:{case.case_id}" in [c["ref"] for c in result.structured_content["cases"]]


async def test_reveal_is_refused_where_not_allowed(emulators: Emulators) -> None:
    case = patient_with_phone()
    server = make_server(emulators)
    async with Client(server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert "reveal" not in tools["get_case"].input_schema["properties"]  # not offered
        result = await client.call_tool("get_case", {"ref": f"commcare:{case.case_id}", "reveal": ["dob"]})
    assert result.is_error
    error = result.structured_content["error"]
    assert error["field"] == "reveal" and "does not reveal" in error["message"]
    assert case.properties["dob"] not in everything(result)


@pytest.mark.parametrize("era", ERAS)
async def test_reveal_where_allowed_shows_the_fields_and_leaves_a_ledger_row(
    emulators: Emulators, era: str, tmp_path: Path
) -> None:
    case = patient_with_phone()
    ref = f"commcare:{case.case_id}"
    server = make_server(emulators, casebridge_allow_reveal="commcare", casebridge_data_dir=tmp_path, read_only=True)
    ledger = server.registry.ledger
    assert ledger is not None  # created for reveals, though no write tool is offered
    async with Client(server, mode=era) as client:  # type: ignore[arg-type]
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert "reveal" in tools["get_case"].input_schema["properties"]
        assert "order_case" not in tools
        masked = await client.call_tool("get_case", {"ref": ref})
        assert "get_case with reveal=[names] shows them" in text_of(masked)
        result = await client.call_tool("get_case", {"ref": ref, "reveal": ["dob"]})
        hidden = await client.call_tool("get_case", {"ref": ref, "reveal": ["phone_number", "dob"]})
    assert not result.is_error, text_of(result)
    facts = result.structured_content["facts"]
    assert facts["properties.dob"] == case.properties["dob"]  # revealed
    assert "(masked: phone number)" in facts["properties.phone_number"]  # not asked for: still masked
    assert "Revealed on request (recorded): dob." in text_of(result)
    assert case.properties["phone_number"] in text_of(hidden)
    rows = sorted((r for r in ledger.recent() if r.entry.tool == "get_case"), key=lambda r: r.id)
    assert [r.entry.outcome for r in rows] == ["revealed", "revealed"]
    assert rows[0].entry.request == {"case": ref, "fields": ["dob"]}
    assert rows[0].entry.provider_id == case.case_id
    stored = json.dumps([[r.entry.request, r.entry.detail] for r in rows])
    assert case.properties["dob"] not in stored and case.properties["phone_number"] not in stored  # never values
    table = format_table(rows)
    assert "get_case" in table and "revealed" in table and "fields dob" in table
    assert case.properties["dob"] not in table
    ledger.close()


async def test_reveal_refuses_hidden_properties_and_other_providers(emulators: Emulators, tmp_path: Path) -> None:
    case = patient_with_phone()
    settings = {
        "casebridge_allow_reveal": "commcare",
        "commcare_hidden_properties": "sex",
        "casebridge_data_dir": tmp_path,
    }
    server = make_server(emulators, **settings)
    async with Client(server) as client:
        hidden = await client.call_tool("get_case", {"ref": f"commcare:{case.case_id}", "reveal": ["sex"]})
        certn = await client.call_tool("search_cases", {"provider": "certn", "limit": 1})
        other = await client.call_tool(
            "get_case", {"ref": certn.structured_content["cases"][0]["ref"], "reveal": ["x"]}
        )
    assert hidden.is_error and "never shown" in hidden.structured_content["error"]["message"]
    assert other.is_error and "certn" in other.structured_content["error"]["message"]
    assert server.registry.ledger is not None
    assert not [r for r in server.registry.ledger.recent() if r.entry.tool == "get_case"]
    server.registry.ledger.close()


async def test_resources_and_errors_are_masked(emulators: Emulators) -> None:
    case = patient_with_phone()
    async with Client(make_server(emulators)) as client:
        resource = await client.read_resource(f"case://commcare/{case.case_id}")
        bad = await client.call_tool("get_case", {"ref": "commcare:" + "416-555-0199"})
    text = "\n".join(getattr(c, "text", "") for c in resource.contents)
    assert "(masked: date of birth)" in text and case.properties["dob"] not in text
    assert bad.is_error and "416-555-0199" not in everything(bad)
