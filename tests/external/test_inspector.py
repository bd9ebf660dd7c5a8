"""The MCP Inspector CLI against the sandbox: stdio and Streamable HTTP, both protocol eras, ``--strict``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.external.clients import NodeTools
from tests.support import PYTHON, ROOT

pytestmark = pytest.mark.external

ERAS = ["legacy", "modern"]
STDIO_SERVER = ["--cwd", str(ROOT), PYTHON, "-m", "server", "--sandbox"]
SEARCH = {"provider": "clearinghouse", "limit": 2, "clearinghouse": {"case_type": "prison conditions"}}
# Exit status of the Inspector CLI for "a tool-schema portability problem of error severity".
STRICT_FAILED = 6


def inspector(tools: NodeTools, era: str, target: list[str], *method: str) -> tuple[dict[str, Any], Any]:
    """The ``result`` of one Inspector CLI call, and its ``--strict`` schema findings (None when clean)."""
    proc = tools.run("inspector", "--cli", "--format", "json", "--protocol-era", era, *method, *target)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-3000:]}"
    answer = json.loads(proc.stdout)
    assert isinstance(answer, dict) and "result" in answer, answer
    return dict(answer["result"]), answer.get("schemaFindings")


def check_list_and_call(tools: NodeTools, era: str, target: list[str]) -> None:
    listed, findings = inspector(tools, era, target, "--method", "tools/list", "--strict")
    assert findings is None, f"schema portability findings (warnings included): {findings}"
    names = {tool["name"] for tool in listed["tools"]}
    assert {"search_cases", "get_case"} <= names

    call = ["--method", "tools/call", "--tool-name", "search_cases", "--tool-args-json", json.dumps(SEARCH)]
    called, _ = inspector(tools, era, target, *call)
    assert called.get("isError") is False
    cases = called["structuredContent"]["cases"]
    assert len(cases) == 2 and all(case["ref"].startswith("clearinghouse:") for case in cases)
    assert called["structuredContent"]["sandbox"] is True
    # Only a 2026-07-28 (stateless) answer carries the server's identity in each result's _meta:
    # proof that the era asked for is the one spoken.
    stateless = "io.modelcontextprotocol/serverInfo" in (called.get("_meta") or {})
    assert stateless == (era == "modern")


@pytest.mark.parametrize("era", ERAS)
def test_stdio(node_tools: NodeTools, era: str) -> None:
    check_list_and_call(node_tools, era, STDIO_SERVER)


@pytest.mark.parametrize("era", ERAS)
def test_streamable_http(node_tools: NodeTools, sandbox_http: str, era: str) -> None:
    check_list_and_call(node_tools, era, ["--transport", "http", sandbox_http])


# A minimal stdio server, hand-written so it can publish a schema MCPServer would never produce.
NON_PORTABLE_SERVER = """
import json, sys
for line in sys.stdin:
    msg = json.loads(line)
    if "id" not in msg:
        continue
    if msg["method"] == "initialize":
        result = {"protocolVersion": msg["params"]["protocolVersion"], "capabilities": {"tools": {}},
                  "serverInfo": {"name": "non-portable", "version": "0"}}
    elif msg["method"] == "tools/list":
        schema = {"type": "object", "properties": {"anything": True}}
        result = {"tools": [{"name": "loose", "description": "x", "inputSchema": schema}]}
    else:
        result = {}
    print(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}), flush=True)
"""


def test_strict_check_fails_a_non_portable_schema(node_tools: NodeTools, tmp_path: Path) -> None:
    """``--strict`` does reject a bare ``true`` schema, so its passing on ours means something."""
    server = tmp_path / "non_portable.py"
    server.write_text(NON_PORTABLE_SERVER)
    proc = node_tools.run(
        "inspector", "--cli", "--protocol-era", "legacy", "--method", "tools/list", "--strict", PYTHON, str(server)
    )
    assert proc.returncode == STRICT_FAILED, (proc.returncode, proc.stderr[-2000:])
    assert "boolean-schema" in proc.stderr or "Bare `true`" in proc.stderr, proc.stderr[-2000:]
