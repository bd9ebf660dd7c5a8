"""A fourth provider, added by one declaration (tests/tools/toy_provider.py) and no edit of casebridge itself:
the server offers it in search_cases and get_case, doctor checks it, and the sandbox serves its emulator."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp import Client
from pydantic import SecretStr

from casebridge.sandbox.emulation import LoopbackServer
from casebridge.server.app import build_server
from casebridge.server.doctor import check_all
from casebridge.server.sandbox import (
    announcement,
    build_emulators,
    combined_app,
    in_process_transports,
    sandbox_settings,
)
from casebridge.server.settings import SettingsValues, load_settings, settings_model
from casebridge.server.wiring import build_registry
from casebridge.tools.registry import SourceRegistry
from tests.support import TEST_POLICY, hold, text_of
from tests.tools.toy_provider import CATALOG, TOY_KEY, ToyVariables


def base_settings(**values: Any) -> SettingsValues:
    """Settings of the catalog with the toy; the ledger in the session's temporary data folder (conftest)."""
    return settings_model(CATALOG).model_validate({"casebridge_data_dir": os.environ["CASEBRIDGE_DATA_DIR"], **values})


@pytest.fixture
async def sandbox_registry() -> AsyncIterator[SourceRegistry]:
    """The in-process sandbox of a server whose catalog has the toy."""
    emulators = build_emulators(CATALOG)
    assert "toy" in emulators
    settings = sandbox_settings(base_settings(), catalog=CATALOG)
    registry = build_registry(settings, transports=in_process_transports(emulators), catalog=CATALOG)
    registry.sandbox = True
    yield registry
    await registry.aclose()


@pytest.fixture
async def client(sandbox_registry: SourceRegistry) -> AsyncIterator[Client]:
    async with hold(Client(build_server(sandbox_registry))) as c:  # type: ignore[arg-type]
        yield c


async def test_search_cases_offers_the_toy_with_its_own_filter_parameter(client: Client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    schema = tools["search_cases"].input_schema
    assert schema["properties"]["provider"]["enum"] == ["clearinghouse", "commcare", "certn", "toy"]
    assert "colour" in str(schema["properties"]["toy"])
    assert "toy (toy cases)" in (tools["search_cases"].description or "")
    output = tools["search_cases"].output_schema or {}
    assert "toy" in output["properties"]["provider"]["enum"]

    result = await client.call_tool("search_cases", {"provider": "toy", "toy": {"colour": "red"}})
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert result.structured_content["provider"] == "toy"
    assert [row["ref"] for row in result.structured_content["cases"]] == ["toy:1", "toy:4"]


async def test_get_case_reads_a_toy_ref(client: Client) -> None:
    result = await client.call_tool("get_case", {"ref": "toy:2"})
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert result.structured_content["provider"] == "toy"
    assert result.structured_content["title"] == "Toy case 2"
    assert "green" in text_of(result)

    bad = await client.call_tool("get_case", {"ref": "toy:nine"})
    assert bad.is_error and "a toy case id is a number" in text_of(bad)


async def test_an_unconfigured_toy_is_explained_with_its_variables() -> None:
    registry = build_registry(base_settings(), catalog=CATALOG)
    try:
        async with Client(build_server(registry)) as client:
            result = await client.call_tool("get_case", {"ref": "toy:1"})
    finally:
        await registry.aclose()
    assert result.is_error
    assert "set TOY_API_KEY (optionally TOY_BASE_URL)" in text_of(result)


async def test_doctor_checks_the_toy() -> None:
    emulators = build_emulators(CATALOG)
    settings = sandbox_settings(base_settings(), catalog=CATALOG)
    rows = await check_all(
        settings, transports=in_process_transports(emulators), policy=TEST_POLICY, sandbox=True, catalog=CATALOG
    )
    assert [row.provider for row in rows] == ["clearinghouse", "commcare", "certn", "toy"]
    toy = rows[-1]
    assert (toy.configured, toy.reachable, toy.authenticated, toy.failed) == ("yes", "yes", "yes", False)
    assert emulators["toy"].requests, "the probe reached the toy emulator"

    wrong = settings.model_copy(update={"toy_api_key": SecretStr("not-the-key")})
    rows = await check_all(
        wrong, transports=in_process_transports(emulators), policy=TEST_POLICY, sandbox=True, catalog=CATALOG
    )
    assert rows[-1].failed and "refused the credentials" in rows[-1].fix and "TOY_API_KEY" in rows[-1].fix

    half = base_settings(toy_base_url="http://127.0.0.1:9/toy/v1")
    (toy,) = [row for row in await check_all(half, policy=TEST_POLICY, catalog=CATALOG) if row.provider == "toy"]
    assert toy.configured == "partial" and "set TOY_API_KEY" in toy.fix


async def test_the_loopback_sandbox_serves_the_toy_on_a_real_socket() -> None:
    emulators = build_emulators(CATALOG)
    served = LoopbackServer(combined_app(emulators, CATALOG)).start()
    try:
        assert f"TOY_BASE_URL={served.url}/toy/v1 TOY_API_KEY={TOY_KEY}" in announcement(served.url, CATALOG)
        settings = sandbox_settings(base_settings(), served.url, catalog=CATALOG)
        registry = build_registry(settings, policy=TEST_POLICY, catalog=CATALOG)
        try:
            async with Client(build_server(registry)) as client:
                result = await client.call_tool("search_cases", {"toy": {"colour": "blue"}})
        finally:
            await registry.aclose()
    finally:
        served.stop()
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert [row["ref"] for row in result.structured_content["cases"]] == ["toy:3"]
    assert [r.path for r in emulators["toy"].requests] == ["/toy/v1/cases"]


def test_settings_read_the_toy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOY_API_KEY", "from-the-environment")
    settings = load_settings(catalog=CATALOG)
    assert isinstance(settings, ToyVariables)
    assert settings.toy_api_key is not None and settings.toy_api_key.get_secret_value() == "from-the-environment"
    assert "from-the-environment" in settings.secret_values()
    statuses = {s.provider: s for s in settings.provider_status(CATALOG)}
    assert statuses["toy"].configured
    assert not hasattr(load_settings(), "toy_api_key"), "the built-in catalog's settings stay as they were"
