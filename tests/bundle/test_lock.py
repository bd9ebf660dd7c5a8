"""The bundle installs the same way twice: ``uv.lock`` matches ``pyproject.toml`` and ships, with the LICENSE."""

from __future__ import annotations

import os
import subprocess
import tomllib

from tests.bundle.pack import uv
from tests.support import ROOT

pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_lock_file_is_current() -> None:
    # Offline: the check compares the lock with pyproject.toml; `uv lock` after a dependency change fixes it.
    done = subprocess.run(
        [uv(), "lock", "--check", "--offline"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "UV_NO_PROGRESS": "1"},
    )
    assert done.returncode == 0, f"uv.lock is stale: run `uv lock`\n{done.stderr[-2000:]}"
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    assert lock["requires-python"] == pyproject["project"]["requires-python"]
    root = next(p for p in lock["package"] if p["name"] == "casebridge")
    assert root["source"] == {"virtual": "."}  # uv runs the source as shipped: no unlocked build step


def test_the_bundle_ships_the_lock_and_the_license() -> None:
    ignore = (ROOT / ".mcpbignore").read_text().splitlines()
    assert "!/uv.lock" in ignore and "!/LICENSE" in ignore
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and pyproject["project"]["license"] == "MIT"
