"""Configuration comes from the environment, and from a file only when named: never a ``.env`` in the cwd."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from casebridge.sandbox.emulation import free_port
from casebridge.server.env_settings import Settings
from casebridge.server.settings import DEFAULT_CERTN_URL, DEFAULT_CLEARINGHOUSE_URL, DEFAULT_COMMCARE_URL, load_settings
from tests.support import PYTHON, ROOT, Emulators, text_of
from tests.support import subprocess_env as _subprocess_env

KEYS = ("CLEARINGHOUSE_API_TOKEN", "COMMCARE_USERNAME", "COMMCARE_API_KEY", "COMMCARE_DOMAIN", "CERTN_API_KEY")
URLS = ("CLEARINGHOUSE_BASE_URL", "COMMCARE_BASE_URL", "CERTN_BASE_URL")


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The children run in other folders than the checkout: they import this checkout's casebridge."""
    return _subprocess_env({**(extra or {}), "PYTHONPATH": str(ROOT)})


def dotenv(variables: dict[str, str]) -> str:
    return "".join(f"{name}={value}\n" for name, value in variables.items())


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A cloned repository an MCP host starts the server in: its ``.env`` is the attacker's."""
    folder = tmp_path / "cloned-repository"
    folder.mkdir()
    return folder


def plant(repository: Path, attacker: Emulators, *, keys: bool) -> Path:
    """A ``.env`` sending every provider (and the ledger) to the attacker; with the keys too if ``keys``."""
    planted = {name: value for name, value in attacker.env().items() if name in URLS or (keys and name in KEYS)}
    planted["CASEBRIDGE_DATA_DIR"] = str(repository / "planted-ledger")
    (repository / ".env").write_text(dotenv(planted))
    return repository / "planted-ledger"


def attacker_requests(attacker: Emulators) -> int:
    return sum(len(attacker[name].requests) for name in ("clearinghouse", "commcare", "certn"))


def run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "server", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=cwd,
    )


def no_proxy_to_anywhere() -> dict[str, str]:
    """Every HTTPS request fails at once on loopback: the default provider URLs are never really reached."""
    dead = f"http://127.0.0.1:{free_port()}"
    return {"HTTPS_PROXY": dead, "https_proxy": dead, "ALL_PROXY": dead, "NO_PROXY": "", "no_proxy": ""}


# ------------------------------------------------------------------------ a .env in the working folder


def test_the_settings_ignore_a_planted_dotenv(
    repository: Path, emulators: Emulators, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted_ledger = plant(repository, emulators, keys=False)
    monkeypatch.chdir(repository)
    for name in os.environ:
        if name.startswith(("CLEARINGHOUSE_", "COMMCARE_", "CERTN_", "CASEBRIDGE_")):
            monkeypatch.delenv(name)
    for name in KEYS:  # the real keys come from the environment, as an MCP host passes them
        monkeypatch.setenv(name, emulators.env()[name])
    for settings in (load_settings(), Settings()):
        assert settings.certn_api_key is not None  # the environment is read
        assert (settings.clearinghouse_base_url, settings.commcare_base_url, settings.certn_base_url) == (
            DEFAULT_CLEARINGHOUSE_URL,
            DEFAULT_COMMCARE_URL,
            DEFAULT_CERTN_URL,
        )
        assert settings.casebridge_data_dir != planted_ledger


async def test_the_server_ignores_a_planted_dotenv(repository: Path, emulators: Emulators) -> None:
    plant(repository, emulators, keys=True)
    params = StdioServerParameters(command=PYTHON, args=["-m", "server"], env=subprocess_env(), cwd=str(repository))
    async with Client(params, mode="legacy") as client:
        result = await client.call_tool("search_cases", {"provider": "certn", "limit": 3})
    assert result.is_error and "not_configured" in text_of(result)
    assert attacker_requests(emulators) == 0
    assert not (repository / "planted-ledger").exists()


def test_doctor_ignores_a_planted_dotenv(repository: Path, emulators: Emulators) -> None:
    plant(repository, emulators, keys=True)
    alone = run("doctor", env=subprocess_env(), cwd=repository)
    assert alone.returncode == 1 and "no provider is configured" in alone.stdout
    keys = {name: emulators.env()[name] for name in KEYS}
    with_keys = run("doctor", env=subprocess_env({**keys, **no_proxy_to_anywhere()}), cwd=repository)
    assert with_keys.returncode == 1
    assert attacker_requests(emulators) == 0  # no key went to the attacker's URLs
    assert "127.0.0.1" not in with_keys.stdout and "api.sandbox.certn.co" in with_keys.stdout
    rows = [line.split() for line in with_keys.stdout.splitlines()[2:]]
    assert [row[3] for row in rows] == ["?", "?", "?"]  # never "authenticated: yes"


# ------------------------------------------------------------------------- a file named explicitly


@pytest.mark.parametrize("how", ["--env-file before", "--env-file after", "CASEBRIDGE_ENV_FILE"])
def test_doctor_reads_a_named_file(tmp_path: Path, emulators: Emulators, how: str) -> None:
    named = tmp_path / "casebridge.env"
    named.write_text(dotenv(emulators.env()))
    env = subprocess_env({"CASEBRIDGE_ENV_FILE": str(named)} if how == "CASEBRIDGE_ENV_FILE" else {})
    argv = {
        "--env-file before": ["--env-file", str(named), "doctor"],
        "--env-file after": ["doctor", "--env-file", str(named)],
        "CASEBRIDGE_ENV_FILE": ["doctor"],
    }[how]
    done = run(*argv, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [line.split()[3] for line in done.stdout.splitlines()[2:]] == ["yes", "yes", "yes"]


async def test_the_server_reads_a_named_file(tmp_path: Path, emulators: Emulators) -> None:
    named = tmp_path / "casebridge.env"
    named.write_text(dotenv(emulators.env()))
    params = StdioServerParameters(
        command=PYTHON, args=["-m", "server", "--env-file", str(named)], env=subprocess_env(), cwd=str(tmp_path)
    )
    async with Client(params, mode="legacy") as client:
        result = await client.call_tool("search_cases", {"provider": "certn", "limit": 3})
    assert not result.is_error, text_of(result)
    assert emulators["certn"].requests


def test_the_ledger_command_reads_a_named_file(tmp_path: Path) -> None:
    named = tmp_path / "casebridge.env"
    named.write_text(dotenv({"CASEBRIDGE_DATA_DIR": str(tmp_path / "from-file")}))
    env = {k: v for k, v in subprocess_env().items() if k != "CASEBRIDGE_DATA_DIR"}
    done = run("--env-file", str(named), "ledger", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"No ledger yet at {tmp_path / 'from-file'}" in done.stdout


@pytest.mark.parametrize("command", [[], ["doctor"], ["ledger"], ["--transport", "http"]])
def test_a_named_file_that_is_missing_is_one_line_and_exit_2(tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "nowhere.env"
    for args, env in [(["--env-file", str(missing), *command], {}), (command, {"CASEBRIDGE_ENV_FILE": str(missing)})]:
        done = run(*args, env=subprocess_env(env), cwd=tmp_path)
        assert done.returncode == 2 and done.stdout == ""
        (line,) = done.stderr.splitlines()
        assert line == f"casebridge: cannot read the env file {missing}: No such file or directory"
