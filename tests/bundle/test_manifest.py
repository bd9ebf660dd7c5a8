"""``manifest.json`` (MCP Bundle 0.4) agrees with the code: version, tools, settings, files."""

from __future__ import annotations

import json
import tomllib
import typing
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from pydantic import SecretStr

from casebridge.providers import __version__
from casebridge.server.env_settings import Settings
from tests.bundle.manifest_sync import MANIFEST, WRITE_TOOLS, expected_manifest_tools, live_tools
from tests.support import PYTHON, ROOT, subprocess_env, text_of

manifest = json.loads(MANIFEST.read_text())
pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
config = manifest["server"]["mcp_config"]
user_config = manifest["user_config"]
# Settings a bundle user has no use for: the bundle runs over stdio, never HTTP.
# The bundle runs stdio only: the HTTP transport's settings are not offered there, and the response cap
# keeps its default.
NOT_IN_BUNDLE = {
    "casebridge_http_token",
    "casebridge_http_header_timeout",
    "casebridge_http_body_timeout",
    "casebridge_session_idle_minutes",
    "casebridge_max_sessions",
    "casebridge_max_sessions_per_peer",
    "casebridge_max_sse_sessions",
    "casebridge_max_response_bytes",
    "commcare_writes",  # on by default; a deployment turns CommCare writes off in its environment (README)
    "commcare_case_api",  # auto finds the API itself; pinning is for servers that misreport (README)
    # Privacy (README "Privacy"): a bundle runs with the default policy; deployments set these in the environment.
    "casebridge_privacy",
    "commcare_sensitive_properties",
    "commcare_hidden_properties",
    "casebridge_allow_reveal",
    # HTTP deployments for a team (server/oauth.py, server/operations.py): the bundle runs stdio.
    "casebridge_oauth_issuer",
    "casebridge_oauth_jwks_url",
    "casebridge_resource_url",
    "casebridge_log_format",
    "casebridge_shutdown_seconds",
    "casebridge_database_url",  # the shared PostgreSQL ledger of several workers; the bundle keeps SQLite
}


def field_types(name: str) -> set[type]:
    annotation = Settings.model_fields[name].annotation
    return set(typing.get_args(annotation)) or {annotation}  # type: ignore[arg-type]


def test_version_is_the_package_version() -> None:
    assert manifest["manifest_version"] == "0.4"
    assert manifest["version"] == pyproject["project"]["version"] == __version__


async def test_tools_are_exactly_what_the_server_offers() -> None:
    live = await live_tools()
    expected = expected_manifest_tools(manifest, live)
    assert manifest["tools"] == expected, (
        "manifest.json's tools differ from tools/list of a fully configured server: "
        "run `python -m tests.bundle.manifest_sync`"
    )
    assert set(WRITE_TOOLS) <= {tool["name"] for tool in manifest["tools"]}


def test_every_env_var_is_a_setting_fed_by_user_config() -> None:
    fields = set(Settings.model_fields)
    assert set(user_config) == fields - NOT_IN_BUNDLE
    assert config["env"] == {key.upper(): f"${{user_config.{key}}}" for key in user_config}
    for variable in config["env"]:
        assert variable.lower() in fields, f"{variable} is not a casebridge setting"


def test_secrets_are_sensitive_and_never_in_args() -> None:
    for key, option in user_config.items():
        assert option["title"] and option["description"]
        assert option.get("sensitive", False) == (SecretStr in field_types(key)), key
        assert not option.get("required", False), "every provider is optional"
    assert config["command"] == "uv"
    # uv installs exactly the bundle's uv.lock (refusing a stale one) and runs the bundle's own source.
    assert config["args"] == ["run", "--directory", "${__dirname}", "--locked", "python", "-m", "casebridge.server"]
    assert "user_config" not in json.dumps(config["args"])


def test_user_config_types_and_defaults_follow_settings() -> None:
    for key, option in user_config.items():
        types = field_types(key)
        default = Settings.model_fields[key].default
        if bool in types:
            assert (option["type"], option["default"]) == ("boolean", default)
        elif Path in types:
            assert (option["type"], option["default"]) == ("directory", "")
        else:
            assert option["type"] == "string"
            # A blank optional field reaches the server as "" and means "unset" (env_ignore_empty).
            assert option["default"] == ("" if default is None else default), key


def test_metadata_and_files() -> None:
    for required in ("name", "display_name", "description", "long_description", "license", "keywords"):
        assert manifest[required], required
    assert manifest["author"]["name"]
    assert manifest["license"] == pyproject["project"]["license"]
    assert (ROOT / manifest["icon"]).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert (ROOT / manifest["server"]["entry_point"]).is_file()
    assert manifest["server"]["type"] == "uv"
    policies = manifest["privacy_policies"]
    assert len(policies) == 3 and all(p.startswith("https://") for p in policies)
    assert sorted(manifest["compatibility"]["platforms"]) == ["darwin", "linux", "win32"]
    lower = pyproject["project"]["requires-python"]
    assert manifest["compatibility"]["runtimes"]["python"] == f"{lower} <4"


def host_env(**chosen: object) -> dict[str, str]:
    """``mcp_config.env`` as a bundle host fills it: each field's default, or what the user chose."""
    values = {key: chosen.get(key, option["default"]) for key, option in user_config.items()}
    text = {key: ("true" if v else "false") if isinstance(v, bool) else str(v) for key, v in values.items()}
    return {name: text[template[len("${user_config.") : -1]] for name, template in config["env"].items()}


async def test_blank_settings_mean_unset_and_the_sandbox_switch_works(tmp_path: Path) -> None:
    blank = host_env(casebridge_data_dir=str(tmp_path))
    assert blank["CLEARINGHOUSE_API_TOKEN"] == "" and blank["CASEBRIDGE_SANDBOX"] == "false"
    for env, sandbox in [(blank, False), ({**blank, "CASEBRIDGE_SANDBOX": "true"}, True)]:
        params = StdioServerParameters(command=PYTHON, args=["-m", "server"], env=subprocess_env(env), cwd=str(ROOT))
        async with Client(params, mode="legacy") as client:  # type: ignore[arg-type]
            result = await client.call_tool("search_cases", {"provider": "certn", "limit": 1})
        if sandbox:
            assert not result.is_error and text_of(result).startswith("[SANDBOX")
        else:  # nothing configured: empty strings did not count as credentials
            assert result.is_error and "CERTN_API_KEY" in text_of(result)


def test_blank_variables_fall_back_to_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in host_env():
        monkeypatch.setenv(name, "")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.casebridge_data_dir is None  # not Path("."), the current directory
    assert settings.clearinghouse_base_url == user_config["clearinghouse_base_url"]["default"]
    assert not any(status.configured or status.half_set for status in settings.provider_status())
