"""The settings' provider fields come from the catalog declarations (tools/catalog), and facts derive from them."""

from __future__ import annotations

from casebridge.server.client_config import PLACEHOLDERS
from casebridge.server.env_settings import Settings
from casebridge.server.settings import SettingsValues, settings_model
from casebridge.tools.catalog import BUILTIN


def test_each_built_in_provider_is_declared_once_and_its_facts_derive_from_it() -> None:
    assert BUILTIN.names == ("clearinghouse", "commcare", "certn")
    assert settings_model(BUILTIN) is SettingsValues  # no model is made for the built-in catalog
    fields = list(SettingsValues.model_fields)
    provider_fields = [name for spec in BUILTIN for name in spec.variables.model_fields]
    assert fields[: len(provider_fields)] == provider_fields  # the providers' variables first, in catalog order
    assert [spec.hint for spec in BUILTIN] == [
        "set CLEARINGHOUSE_API_TOKEN (optionally CLEARINGHOUSE_BASE_URL)",
        "set COMMCARE_USERNAME, COMMCARE_API_KEY and COMMCARE_DOMAIN (optionally COMMCARE_BASE_URL)",
        "set CERTN_API_KEY (optionally CERTN_BASE_URL)",
    ]
    assert [sorted(spec.secrets) for spec in BUILTIN] == [
        ["clearinghouse_api_token"],
        ["commcare_api_key"],
        ["certn_api_key"],
    ]
    assert list(PLACEHOLDERS) == [v for spec in BUILTIN for v in spec.required_variables]


def test_half_set_providers_name_what_is_missing() -> None:
    settings = Settings(_env_file=None, commcare_username="u", certn_base_url="http://x")  # type: ignore[call-arg]
    status = {s.provider: s for s in settings.provider_status()}
    assert status["commcare"].half_set and status["commcare"].missing == ["COMMCARE_API_KEY", "COMMCARE_DOMAIN"]
    assert status["certn"].half_set and status["certn"].missing == ["CERTN_API_KEY"]
    assert not status["clearinghouse"].half_set and not status["clearinghouse"].configured
