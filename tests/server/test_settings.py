"""load_settings reads the environment (and a named file) as pydantic-settings does, without importing it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from casebridge.server.env_settings import Settings
from casebridge.server.settings import EnvFileError, load_settings
from tests.support import PYTHON, ROOT, subprocess_env

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


FILES = [
    ("CERTN_API_KEY=from-file\n", {}),
    ("CERTN_API_KEY=from-file\nCERTN_BASE_URL=http://file.invalid\n", {"CERTN_API_KEY": "from-env"}),  # env wins
    ("export COMMCARE_USERNAME='u'\ncommcare_api_key=k # comment\nCOMMCARE_DOMAIN=\"d\"\n", {"COMMCARE_DOMAIN": ""}),
    ("CASEBRIDGE_READ_ONLY=\nCASEBRIDGE_SANDBOX=true\nBARE_NAME\nUNRELATED=1\n", {"CASEBRIDGE_READ_ONLY": "1"}),
    ("CERTN_API_KEY=${HOME_KEY}-x\n", {"HOME_KEY": "interpolated"}),
]


@pytest.mark.parametrize(("text", "env"), FILES)
def test_a_named_file_reads_as_pydantic_settings_reads_it(
    text: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    _only(monkeypatch, env)
    named = tmp_path / "casebridge.env"
    named.write_text(text)
    fast, reference = load_settings(named), Settings(_env_file=named)
    assert fast.model_dump() == reference.model_dump()
    monkeypatch.setenv("CASEBRIDGE_ENV_FILE", str(named))  # the variable names the same file
    assert load_settings().model_dump() == reference.model_dump()


def test_a_dotenv_file_in_the_working_folder_is_never_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    _only(monkeypatch, {})
    (tmp_path / ".env").write_text("CERTN_API_KEY=from-file\n")
    assert load_settings().certn_api_key is None
    assert Settings().certn_api_key is None


@pytest.mark.parametrize("kind", ["missing", "folder", "not utf-8"])
def test_a_named_file_that_cannot_be_read_is_one_clear_error(
    kind: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _only(monkeypatch, {})
    named = tmp_path / "casebridge.env"
    if kind == "folder":
        named.mkdir()
    elif kind == "not utf-8":
        named.write_bytes(b"CERTN_API_KEY=\xff\n")
    with pytest.raises(EnvFileError) as error:
        load_settings(named)
    assert str(named) in str(error.value) and "\n" not in str(error.value)
    monkeypatch.setenv("CASEBRIDGE_ENV_FILE", str(named))
    with pytest.raises(EnvFileError):
        load_settings()


PROBE = """
import sys
from casebridge.server.settings import load_settings
load_settings(sys.argv[1] if len(sys.argv) > 1 else None)
print(sorted(m for m in ("pydantic_settings", "dotenv") if m in sys.modules))
"""


def test_start_up_imports_neither_pydantic_settings_nor_dotenv(tmp_path: Path) -> None:
    def imported(*args: str) -> str:
        done = subprocess.run(
            [PYTHON, "-c", PROBE, *args], capture_output=True, text=True, env=subprocess_env(), cwd=ROOT, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert imported() == "[]"
    named = tmp_path / "casebridge.env"
    named.write_text("CERTN_API_KEY=k\n")
    assert imported(str(named)) == "['dotenv']"  # a named file is parsed by python-dotenv alone
