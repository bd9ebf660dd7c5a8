"""``server.json`` (the MCP Registry entry) is valid against the registry's published schema and agrees with the code.

``server.schema.json`` here is a byte-for-byte copy of
https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json (the sha256 below is
that published file's). Moving to a newer schema is a deliberate change: replace the file and the pin.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
import typing
from pathlib import Path

import jsonschema
from pydantic import SecretStr

from casebridge.server.env_settings import Settings
from tests.support import ROOT

HERE = Path(__file__).resolve().parent
SCHEMA_FILE = HERE / "server.schema.json"
SCHEMA_URL = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"
SCHEMA_SHA256 = "3fba09590c99f61735d234822279f4223fab9e300c0a81e81c91ab62a4114de0"

entry = json.loads((ROOT / "server.json").read_text())
pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
manifest = json.loads((ROOT / "manifest.json").read_text())


def test_the_vendored_schema_is_the_published_one() -> None:
    assert hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest() == SCHEMA_SHA256
    assert json.loads(SCHEMA_FILE.read_text())["$id"] == SCHEMA_URL


def test_server_json_is_valid_against_the_schema() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(entry), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    assert entry["$schema"] == SCHEMA_URL
    # The schema really checks: a description over its limit is refused.
    assert list(validator.iter_errors({**entry, "description": "x" * 101}))


def test_name_version_and_packages_agree_with_the_project() -> None:
    marker = re.search(r"<!-- mcp-name: (\S+) -->", (ROOT / "README.md").read_text())
    assert marker and marker.group(1) == entry["name"]  # PyPI ownership: the README is the package's description
    version = pyproject["project"]["version"]
    assert entry["version"] == version == manifest["version"]
    pypi, bundle = (next(p for p in entry["packages"] if p["registryType"] == kind) for kind in ("pypi", "mcpb"))
    assert pypi["identifier"] == pyproject["project"]["name"] and pypi["version"] == version
    assert bundle["identifier"].endswith(f"/v{version}/casebridge-{version}.mcpb")
    assert entry["repository"]["url"] == manifest["repository"]["url"]


def test_environment_variables_are_settings_and_keys_are_secret() -> None:
    pypi = next(p for p in entry["packages"] if p["registryType"] == "pypi")
    for variable in pypi["environmentVariables"]:
        field = variable["name"].lower()
        assert field in Settings.model_fields, variable["name"]
        annotation = Settings.model_fields[field].annotation
        secret = SecretStr in (set(typing.get_args(annotation)) or {annotation})
        assert variable.get("isSecret", False) == secret, variable["name"]
    named = {v["name"] for v in pypi["environmentVariables"]}
    assert {"CLEARINGHOUSE_API_TOKEN", "COMMCARE_API_KEY", "CERTN_API_KEY"} <= named
