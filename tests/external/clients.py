"""Clients written by others, from npm: pinned by this folder's lockfile, installed outside the checkout.

``package.json`` pins only the tools: the MCP Bundles CLI, the MCP Inspector and the conformance
suite. They run on the machine's own Node; a tool whose Node is missing or too old is skipped with
the reason. ``npm ci --omit=optional`` installs them once per lockfile into
``$XDG_CACHE_HOME/casebridge-tests/npm-<lockfile hash>`` (``~/.cache`` by default; about 65 MB
downloaded, 170 MB on disk), under a file lock so parallel test workers install it only once.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import ROOT

HERE = Path(__file__).resolve().parent
LOCK = HERE / "package-lock.json"
NPM_TIMEOUT = 600
# The oldest Node each tool runs on. The conformance suite imports ``fs.globSync`` (Node 22); the
# Inspector declares Node 22.19 but its CLI, all these tests use, runs on Node 20 (checked here).
MIN_NODE = {"mcpb": 18, "inspector": 20, "conformance": 22}


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "casebridge-tests"


def node_major() -> int | None:
    """The major version of the ``node`` on PATH, or None when there is none that answers."""
    node = shutil.which("node")
    if node is None:
        return None
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.match(r"v(\d+)\.", out.strip())
    return int(found.group(1)) if found else None


@dataclass(frozen=True)
class NodeTools:
    bin: Path
    env: dict[str, str]
    node: int

    def need(self, tool: str) -> None:
        """Skips the calling test when the machine's Node is too old for ``tool``."""
        if self.node < MIN_NODE[tool]:
            pytest.skip(f"{tool} needs Node >= {MIN_NODE[tool]}; this machine has Node {self.node}")

    def run(
        self, tool: str, *args: str, timeout: float = 120, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        self.need(tool)
        return subprocess.run(
            [str(self.bin / tool), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env,
            cwd=cwd or ROOT,
            stdin=subprocess.DEVNULL,
        )


def install() -> Path:
    """The ``node_modules/.bin`` of the lockfile's install, made by ``npm ci`` unless it already exists.

    One installer at a time per machine (a lock file beside the install); the stamp is written last,
    so an install cut short is done again.
    """
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    target = cache_root() / f"npm-{digest[:16]}"
    stamp = target / ".casebridge-lock.sha256"
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists() and stamp.read_text().strip() == digest:
            return target / "node_modules" / ".bin"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(HERE / name, target / name)
        proc = subprocess.run(
            ["npm", "ci", "--omit=optional", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
            cwd=target,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        if proc.returncode != 0:
            pytest.fail(f"npm ci failed in {target}:\n{proc.stderr[-3000:]}")
        stamp.write_text(digest + "\n")
    return target / "node_modules" / ".bin"
