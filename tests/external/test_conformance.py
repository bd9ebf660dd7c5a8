"""The official MCP conformance suite's scenarios that apply to any server, over Streamable HTTP.

Verdicts are read from each scenario's ``checks.json``, not from the summary line: some scenarios
report a pass on any error, and a check with status other than SUCCESS must fail the test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.external.clients import NodeTools

pytestmark = pytest.mark.external

SCENARIOS = [
    "server-initialize",
    "ping",
    "tools-list",
    "resources-list",
    "prompts-list",
    "dns-rebinding-protection",
]


def run_scenario(tools: NodeTools, url: str, scenario: str, out: Path) -> list[dict[str, Any]]:
    proc = tools.run("conformance", "server", "--url", url, "--scenario", scenario, "-o", str(out), timeout=120)
    found = sorted(out.rglob("checks.json"))
    assert len(found) == 1, f"no checks.json (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    checks = json.loads(found[0].read_text())
    assert isinstance(checks, list) and checks, f"{scenario}: no checks ran"
    failed = [c for c in checks if c.get("status") != "SUCCESS"]
    assert not failed, json.dumps(failed, indent=2)[:3000]
    assert proc.returncode == 0, proc.stdout[-2000:]
    return checks


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario(node_tools: NodeTools, sandbox_http: str, scenario: str, tmp_path: Path) -> None:
    checks = run_scenario(node_tools, sandbox_http, scenario, tmp_path)
    details = {c["id"]: c.get("details") or {} for c in checks}
    # Evidence that each scenario talked to casebridge rather than passing vacuously.
    if scenario == "tools-list":
        assert {"search_cases", "get_case"} <= set(details["tools-list"]["tools"])
    elif scenario == "prompts-list":
        assert details["prompts-list"]["promptCount"] >= 2
    elif scenario == "dns-rebinding-protection":
        assert set(details) == {"localhost-host-rebinding-rejected", "localhost-host-valid-accepted"}
        assert 400 <= details["localhost-host-rebinding-rejected"]["statusCode"] < 500
        assert details["localhost-host-valid-accepted"]["statusCode"] == 200
