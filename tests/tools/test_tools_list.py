"""Snapshots of the public surface, one file per tool: names, schemas and annotations as ``tools/list`` shows them.

A change to a tool's schema, description or annotations fails here (and shows as a diff of that tool's
file) until the snapshots are regenerated on purpose:
``UPDATE_SNAPSHOTS=1 python -m pytest tests/tools/test_tools_list.py``. A tool without a snapshot, or a
snapshot without a tool, fails too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mcp import Client

from bench.harness import compact_json
from bench.result_size import TARGET_TOOLS_LIST_TOKENS
from tests.support import Emulators, make_server

SNAPSHOTS = Path(__file__).parent / "snapshots"

WRITE_TOOLS = {"order_case", "cancel_case", "generate_report"}


async def surface(emulators: Emulators, era: str = "auto", **settings: object) -> list[dict[str, object]]:
    async with Client(make_server(emulators, **settings), mode=era) as client:  # type: ignore[arg-type]
        tools = await client.list_tools()
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools.tools]


def snapshot_text(tool: dict[str, object]) -> str:
    return json.dumps(tool, indent=2, sort_keys=True) + "\n"


async def test_each_tool_matches_its_snapshot(emulators: Emulators) -> None:
    current = {str(tool["name"]): tool for tool in await surface(emulators)}
    if os.environ.get("UPDATE_SNAPSHOTS"):
        for stale in SNAPSHOTS.glob("*.json"):
            if stale.stem not in current:
                stale.unlink()
        for name, tool in current.items():
            (SNAPSHOTS / f"{name}.json").write_text(snapshot_text(tool))
    saved = {path.stem: json.loads(path.read_text()) for path in SNAPSHOTS.glob("*.json")}
    assert not current.keys() - saved.keys(), "tools without a snapshot (run with UPDATE_SNAPSHOTS=1)"
    assert not saved.keys() - current.keys(), "snapshots of tools the server no longer offers"
    for name, tool in current.items():
        assert tool == saved[name], f"{name} differs from snapshots/{name}.json"


async def test_tools_list_stays_within_its_token_budget(emulators: Emulators) -> None:
    # The same figure as bench/ result size: the tools/list answer's compact JSON, bytes / 4.
    tools = await surface(emulators)
    assert len(compact_json({"tools": tools})) / 4 <= TARGET_TOOLS_LIST_TOKENS


async def test_same_surface_in_both_eras(emulators: Emulators) -> None:
    assert await surface(emulators, "legacy") == await surface(emulators, "auto")


async def test_every_tool_sets_all_four_annotations(emulators: Emulators) -> None:
    for tool in await surface(emulators):
        annotations = tool["annotations"]
        assert isinstance(annotations, dict)
        for hint in ("readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"):
            assert isinstance(annotations.get(hint), bool), (tool["name"], hint)


async def test_read_only_mode_offers_no_write_tool(emulators: Emulators) -> None:
    names = {t["name"] for t in await surface(emulators, read_only=True)}
    assert names == {"search_cases", "get_case"}
    assert not names & WRITE_TOOLS


async def test_only_configured_providers_are_offered(emulators: Emulators) -> None:
    (search,) = [t for t in await surface(emulators, certn_api_key=None, read_only=True) if t["name"] == "search_cases"]
    schema = search["inputSchema"]
    assert isinstance(schema, dict)
    assert schema["properties"]["provider"]["enum"] == ["clearinghouse", "commcare"]
    assert "certn" not in schema["properties"]
    assert "CertnFilters" not in json.dumps(schema)
