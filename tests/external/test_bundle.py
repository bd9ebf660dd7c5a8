"""The MCP Bundle as Claude Desktop gets it: ``mcpb validate``, the documented pack command
(``python -m tests.bundle.pack``, the real ``mcpb pack``), then the unpacked bundle started with its
own ``mcp_config`` command, in sandbox mode, listing its tools.

The command is run as written, ``uv run --directory <bundle> --locked python -m casebridge.server``, with ``uv``
from the dev dependencies. That is what a user's machine does: uv installs exactly the bundle's
``uv.lock`` into a fresh environment and runs the bundle's own files (so a file the bundle leaves out
fails here). The first start may fetch the locked wheels into uv's cache; the second starts from a
deleted environment with ``UV_OFFLINE=1``, so nothing is resolved anew. Swapping in this checkout's
Python would prove nothing about the bundle's contents. ``UV_PYTHON_DOWNLOADS=never``: uv must use an
installed Python, as the manifest's ``compatibility.runtimes.python`` promises.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from tests.bundle.pack import pack
from tests.external.clients import NodeTools
from tests.support import ROOT, subprocess_env, text_of

pytestmark = pytest.mark.external

# What a user types into the bundle's settings: no credentials, only the sandbox switch.
USER_CONFIG: dict[str, Any] = {"casebridge_sandbox": True}
UV_START_LIMIT = 300


def uv_path() -> str:
    found = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    assert found, "uv is missing: it is a dev dependency (python -m pip install -e '.[dev]')"
    return found


def substitute(value: str, dirname: Path, manifest: dict[str, Any]) -> str:
    """``${__dirname}`` and ``${user_config.KEY}`` as the bundle host replaces them (defaults, then the user's)."""
    values = {key: option.get("default") for key, option in manifest["user_config"].items()} | USER_CONFIG
    value = value.replace("${__dirname}", str(dirname))
    for key, given in values.items():
        text = ("true" if given else "false") if isinstance(given, bool) else str(given)
        value = value.replace(f"${{user_config.{key}}}", text)
    assert "${" not in value, f"unsubstituted variable in {value!r}"
    return value


@pytest.fixture(scope="module")
def bundle(node_tools: NodeTools, tmp_path_factory: pytest.TempPathFactory) -> Path:
    validated = node_tools.run("mcpb", "validate", str(ROOT / "manifest.json"))
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "schema validation passes" in validated.stdout.lower()

    node_tools.need("mcpb")
    return pack(tmp_path_factory.mktemp("bundle") / "casebridge.mcpb", str(node_tools.bin / "mcpb"))


def test_bundle_holds_the_server_and_nothing_else(bundle: Path) -> None:
    with zipfile.ZipFile(bundle) as zf:
        names = zf.namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {
        *("manifest.json", "icon.png", "pyproject.toml", "uv.lock", "README.md", "LICENSE"),
        "casebridge",
    }
    # casebridge/ holds the three packages under the one import name, once: as files in the bundle, not
    # links (a link would not unpack on every host).
    with zipfile.ZipFile(bundle) as zf:
        for name in ("casebridge/__init__.py", "casebridge/server/cli.py", "casebridge/tools/order_case.py"):
            info = zf.getinfo(name)
            assert (info.external_attr >> 16) & 0o170000 != 0o120000, f"{name} is a symbolic link"
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert "casebridge/server/cli.py" in names and "casebridge/sandbox/clearinghouse/app.py" in names


def locked_versions(lock: Path) -> dict[str, str]:
    return {p["name"]: p["version"] for p in tomllib.loads(lock.read_text())["package"] if p["name"] != "casebridge"}


def installed_versions(root: Path) -> dict[str, str]:
    found = {}
    for meta in (root / ".venv").glob("lib*/python*/site-packages/*.dist-info/METADATA"):
        fields = dict(line.split(": ", 1) for line in meta.read_text().splitlines()[:3] if ": " in line)
        found[re.sub(r"[-_.]+", "-", fields["Name"]).lower()] = fields["Version"]
    return found


async def start_and_call(root: Path, manifest: dict[str, Any], **extra: str) -> None:
    config = manifest["server"]["mcp_config"]
    env = subprocess_env({key: substitute(v, root, manifest) for key, v in config["env"].items()} | extra)
    env.pop("VIRTUAL_ENV", None)  # the host does not run inside our development environment
    env["PATH"] = f"{Path(uv_path()).parent}{os.pathsep}{env.get('PATH', '')}"
    env["UV_PYTHON_DOWNLOADS"] = "never"
    params = StdioServerParameters(
        command=config["command"], args=[substitute(a, root, manifest) for a in config["args"]], env=env
    )
    # A cold uv cache downloads the locked wheels first; a bound keeps a stuck install from hanging CI.
    with anyio.fail_after(UV_START_LIMIT):
        async with Client(params, mode="legacy") as client:  # type: ignore[arg-type]
            listed = {tool.name for tool in (await client.list_tools()).tools}
            assert listed == {tool["name"] for tool in manifest["tools"]}
            result = await client.call_tool("search_cases", {"provider": "commcare", "limit": 1})
            assert not result.is_error, text_of(result)
            assert re.match(r"\[SANDBOX", text_of(result)), "sandbox mode came from user_config"


async def test_unpacked_bundle_starts_from_its_lock_file(bundle: Path, tmp_path: Path) -> None:
    root = tmp_path / "casebridge"
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(root)
    manifest = json.loads((root / "manifest.json").read_text())
    config = manifest["server"]["mcp_config"]
    assert config["command"] == "uv" and "--locked" in config["args"]
    await start_and_call(root, manifest)
    locked = locked_versions(root / "uv.lock")
    installed = installed_versions(root)
    assert installed and all(locked.get(name) == version for name, version in installed.items()), (installed, locked)

    shutil.rmtree(root / ".venv")  # a second install, offline: only what the lock names, from uv's cache
    await start_and_call(root, manifest, UV_OFFLINE="1")
    assert installed_versions(root) == installed
