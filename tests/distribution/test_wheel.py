"""The distribution: wheel and sdist build, the wheel installs under one import name into a fresh
environment, and the installed command serves, checks the sandbox and runs through ``uvx``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from tests.support import ROOT, hold

pytestmark = [pytest.mark.heavy, pytest.mark.skipif(shutil.which("uv") is None, reason="needs uv (dev extra)")]

UV = shutil.which("uv") or "uv"


def run(*args: str | Path, cwd: Path = ROOT, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{args}: {out.stdout[-2000:]}\n{out.stderr[-2000:]}"
    return out


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run(UV, "build", "--sdist", "--wheel", "--out-dir", out, ROOT)
    return out


@pytest.fixture(scope="module")
def installed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh virtual environment with only the wheel (and its dependencies) installed."""
    venv = tmp_path_factory.mktemp("venv") / "env"
    run(UV, "venv", "--python", sys.executable, venv)
    (wheel,) = dist.glob("*.whl")
    run(UV, "pip", "install", "--python", venv / "bin" / "python", wheel)
    yield venv / "bin"


def test_the_wheel_installs_one_top_level_package(dist: Path) -> None:
    (wheel,) = dist.glob("casebridge-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    assert top == {"casebridge"}, top  # no bare server/, tools/, providers/ or bench/ to shadow others
    for module in ("casebridge/server/cli.py", "casebridge/tools/order_case.py", "casebridge/providers/http.py"):
        assert module in names
    # The sandbox ships: its emulators are what --sandbox and doctor --sandbox run against.
    assert "casebridge/sandbox/certn/app.py" in names
    (sdist,) = dist.glob("casebridge-*.tar.gz")
    assert sdist.stat().st_size > 0


def test_the_installed_command_reports_its_version_and_checks_the_sandbox(installed: Path, tmp_path: Path) -> None:
    version = run(installed / "casebridge", "--version", cwd=tmp_path)  # not the checkout: nothing from it leaks in
    assert version.stdout.startswith("casebridge ")
    doctor = run(installed / "casebridge", "doctor", "--sandbox", cwd=tmp_path)
    assert "certn" in doctor.stdout and "commcare" in doctor.stdout and "clearinghouse" in doctor.stdout
    where = run(installed / "python", "-c", "import casebridge.server; print(casebridge.server.__file__)", cwd=tmp_path)
    assert str(ROOT) not in where.stdout
    bare = subprocess.run([installed / "python", "-c", "import server"], capture_output=True, cwd=tmp_path)
    assert bare.returncode != 0  # no top-level "server" module was installed


async def test_the_installed_server_lists_its_tools_over_stdio(installed: Path, tmp_path: Path) -> None:
    params = StdioServerParameters(command=str(installed / "casebridge"), args=["--sandbox"], cwd=str(tmp_path))
    async with hold(Client(params)) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
    assert {"search_cases", "get_case", "order_case", "update_case"} <= tools


def test_uvx_runs_the_wheel(dist: Path, tmp_path: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    out = run(UV, "tool", "run", "--from", wheel, "casebridge", "--version", cwd=tmp_path)
    assert out.stdout.startswith("casebridge ")
    listed = run(UV, "tool", "run", "--from", wheel, "casebridge", "config", "claude", "--sandbox", cwd=tmp_path).stdout
    assert "--sandbox" in json.dumps(json.loads(listed))
