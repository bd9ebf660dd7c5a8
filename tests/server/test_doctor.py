"""``casebridge doctor``: one table, a concrete fix per failure, never a secret, exit status."""

from __future__ import annotations

import subprocess

from pydantic import SecretStr

from casebridge.sandbox.emulation import free_port
from casebridge.server.doctor import Row, check_all, render
from tests.support import PYTHON, ROOT, TEST_POLICY, Emulators, subprocess_env

CANARY = "canary-7f3a9c1e-do-not-print"


def by_provider(rows: list[Row]) -> dict[str, Row]:
    return {row.provider: row for row in rows}


def doctor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "server", "doctor", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env(env),
        cwd=ROOT,
    )


def table_rows(stdout: str) -> dict[str, list[str]]:
    lines = stdout.splitlines()
    assert lines[0].split() == ["provider", "configured", "reachable", "authenticated", "fix"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    return {line.split()[0]: line.split(None, 4) for line in lines[2:]}


async def test_all_good_against_the_emulators(emulators: Emulators) -> None:
    rows = await check_all(emulators.settings(), policy=TEST_POLICY)
    assert [(r.provider, r.configured, r.reachable, r.authenticated, r.failed) for r in rows] == [
        ("clearinghouse", "yes", "yes", "yes", False),
        ("commcare", "yes", "yes", "yes", False),
        ("certn", "yes", "yes", "yes", False),
    ]


async def test_wrong_credentials_name_the_variable(emulators: Emulators) -> None:
    settings = emulators.settings(
        clearinghouse_api_token=SecretStr(CANARY),
        commcare_api_key=SecretStr(CANARY),
        certn_api_key=SecretStr(CANARY),
    )
    rows = by_provider(await check_all(settings, policy=TEST_POLICY))
    for provider, variable in [
        ("clearinghouse", "CLEARINGHOUSE_API_TOKEN"),
        ("commcare", "COMMCARE_API_KEY"),
        ("certn", "CERTN_API_KEY"),
    ]:
        row = rows[provider]
        assert (row.configured, row.reachable, row.authenticated, row.failed) == ("yes", "yes", "no", True)
        assert variable in row.fix
    assert CANARY not in render(list(rows.values()))


async def test_unreachable_base_url_is_named(emulators: Emulators) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    rows = by_provider(await check_all(emulators.settings(certn_base_url=dead), policy=TEST_POLICY))
    assert (rows["certn"].reachable, rows["certn"].failed) == ("no", True)
    assert dead in rows["certn"].fix and "CERTN_BASE_URL" in rows["certn"].fix
    assert rows["clearinghouse"].authenticated == "yes"


async def test_base_url_that_is_not_the_api(emulators: Emulators) -> None:
    wrong = emulators.servers["clearinghouse"].url + "/not-the-api"
    rows = by_provider(await check_all(emulators.settings(clearinghouse_base_url=wrong), policy=TEST_POLICY))
    row = rows["clearinghouse"]
    assert row.failed and row.reachable == "yes"
    assert "CLEARINGHOUSE_BASE_URL" in row.fix and "https://clearinghouse.net/api/v2p1" in row.fix


async def test_service_failing_is_reported(emulators: Emulators) -> None:
    emulators["commcare"].inject(kind="status", status=503, times=10)
    rows = by_provider(await check_all(emulators.settings(), policy=TEST_POLICY))
    assert rows["commcare"].reachable == "no (HTTP 503)" and rows["commcare"].failed


async def test_half_set_provider_is_reported(emulators: Emulators) -> None:
    settings = emulators.settings(commcare_api_key=None, commcare_domain=None)
    rows = by_provider(await check_all(settings, policy=TEST_POLICY))
    row = rows["commcare"]
    assert (row.configured, row.failed) == ("partial", True)
    assert "COMMCARE_API_KEY" in row.fix and "COMMCARE_DOMAIN" in row.fix


def test_cli_prints_one_table_without_secrets_and_fails(emulators: Emulators) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    env = emulators.env(
        CLEARINGHOUSE_API_TOKEN=CANARY,
        COMMCARE_API_KEY=CANARY + "-commcare",
        CERTN_API_KEY=CANARY + "-certn",
        CERTN_BASE_URL=dead,
    )
    proc = doctor(env=env)
    assert proc.returncode == 1, proc.stderr
    assert CANARY not in proc.stdout + proc.stderr
    rows = table_rows(proc.stdout)
    assert list(rows) == ["clearinghouse", "commcare", "certn"]
    assert rows["clearinghouse"][3] == "no" and "CLEARINGHOUSE_API_TOKEN" in rows["clearinghouse"][4]
    assert rows["commcare"][3] == "no" and "COMMCARE_API_KEY" in rows["commcare"][4]
    assert rows["certn"][2] == "no" and dead in rows["certn"][4]


def test_cli_half_set_and_unconfigured() -> None:
    proc = doctor(env={"COMMCARE_USERNAME": "worker@example.org"})
    assert proc.returncode == 1
    rows = table_rows(proc.stdout)
    assert rows["commcare"][1] == "partial" and "COMMCARE_API_KEY" in rows["commcare"][4]
    assert rows["certn"][1] == "no" and rows["certn"][4].startswith("optional")


def test_cli_nothing_configured_fails_and_suggests_sandbox() -> None:
    proc = doctor()
    assert proc.returncode == 1
    assert all("--sandbox" in row[4] for row in table_rows(proc.stdout).values())


def test_cli_sandbox_passes() -> None:
    for args, env in [(("--sandbox",), None), ((), {"CASEBRIDGE_SANDBOX": "true"})]:
        proc = doctor(*args, env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        rows = table_rows(proc.stdout)
        assert all(row[1:4] == ["yes", "yes", "yes"] for row in rows.values()), proc.stdout
        assert proc.stderr == ""


async def test_malformed_setting_is_reported_before_any_request(emulators: Emulators) -> None:
    rows = by_provider(await check_all(emulators.settings(commcare_domain="my project!"), policy=TEST_POLICY))
    row = rows["commcare"]
    assert (row.configured, row.reachable, row.failed) == ("invalid", "-", True)
    assert "COMMCARE_DOMAIN" in row.fix
    assert not [r for r in emulators["commcare"].requests if r.path.startswith("/a/")]
