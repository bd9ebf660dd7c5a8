"""``casebridge config claude``: the printed block starts casebridge as Claude Desktop would, with no secret in it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters

from casebridge.server.client_config import PLACEHOLDERS
from tests.support import PYTHON, ROOT, subprocess_env, text_of


def printed(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    done = subprocess.run(
        [PYTHON, "-m", "server", "config", "claude", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env(env),
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert "claude_desktop_config.json" in done.stderr  # the how-to goes to stderr, the block alone to stdout
    block = json.loads(done.stdout)
    assert list(block) == ["mcpServers"] and list(block["mcpServers"]) == ["casebridge"]
    return dict(block["mcpServers"]["casebridge"])


async def test_the_sandbox_block_starts_casebridge_without_the_shell(tmp_path: Path) -> None:
    entry = printed("--sandbox")
    assert set(entry) == {"command", "args"}  # no env: no secrets, nothing to fill in
    assert Path(entry["command"]).is_absolute() and "--sandbox" in entry["args"]
    # As Claude Desktop runs it: a bare PATH, another working folder, only the variables it sets.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CASEBRIDGE_DATA_DIR": os.environ["CASEBRIDGE_DATA_DIR"]}
    params = StdioServerParameters(command=entry["command"], args=entry["args"], env=env, cwd=str(tmp_path))
    async with Client(params, mode="legacy") as client:  # type: ignore[arg-type]
        result = await client.call_tool("search_cases", {"provider": "clearinghouse", "limit": 1})
    assert not result.is_error and text_of(result).startswith("[SANDBOX")


def test_the_real_block_has_placeholders_never_the_environments_values() -> None:
    secrets = {name: f"real-secret-{name.lower()}" for name in PLACEHOLDERS}
    entry = printed(env=secrets)
    assert Path(entry["command"]).is_absolute() and "--sandbox" not in entry["args"]
    assert entry["env"] == PLACEHOLDERS
    assert "real-secret" not in json.dumps(entry)
    # The variables are the ones that enable each provider.
    assert {"CLEARINGHOUSE_API_TOKEN", "COMMCARE_USERNAME", "COMMCARE_API_KEY", "COMMCARE_DOMAIN"} <= set(entry["env"])
    assert "CERTN_API_KEY" in entry["env"]
