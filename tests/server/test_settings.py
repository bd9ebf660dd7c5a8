"""load_settings reads the environment as pydantic-settings does, without importing it when no .env exists."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from server.env_settings import Settings
from server.settings import load_settings

ENVIRONMENTS = [
    {},
    {"CLEARINGHOUSE_API_TOKEN": "t", "CLEARINGHOUSE_BASE_URL": "http://127.0.0.1:1/api"},
    {"commcare_username": "u", "COMMCARE_API_KEY": "k", "CommCare_Domain": "d"},  # names in any case
    {"CERTN_API_KEY": "", "CASEBRIDGE_READ_ONLY": "1", "CASEBRIDGE_SANDBOX": "false"},  # empty = unset
    {"CASEBRIDGE_READ_ONLY": "yes", "CASEBRIDGE_DATA_DIR": "/tmp/x", "CASEBRIDGE_HTTP_TOKEN": "s"},
    {"UNRELATED": "1", "CLEARINGHOUSE_API_TOKEN_EXTRA": "x"},
]


def _only(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name in os.environ:
        if name.upper().startswith(("CLEARINGHOUSE_", "COMMCARE_", "CERTN_", "CASEBRIDGE_")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_same_values_as_pydantic_settings(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    _only(monkeypatch, env)
    fast, reference = load_settings(), Settings()
    assert type(fast) is not Settings  # the fast path was taken
    assert fast.model_dump() == reference.model_dump()
    assert fast.secret_values() == reference.secret_values()


def test_same_refusal_of_a_bad_value(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    _only(monkeypatch, {"CASEBRIDGE_READ_ONLY": "perhaps"})
    with pytest.raises(ValidationError) as fast:
        load_settings()
    with pytest.raises(ValidationError) as reference:
        Settings()
    assert [e["loc"] for e in fast.value.errors()] == [e["loc"] for e in reference.value.errors()]


def test_a_dotenv_file_is_read_by_pydantic_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    _only(monkeypatch, {})
    (tmp_path / ".env").write_text("CERTN_API_KEY=from-file\n")
    settings = load_settings()
    assert isinstance(settings, Settings)
    assert settings.certn_api_key is not None and settings.certn_api_key.get_secret_value() == "from-file"
