"""Snapshot of the public surface: tool names, schemas and annotations as ``tools/list`` shows them.

A change to any tool's schema, description or annotations fails here until the snapshot is
regenerated on purpose: ``UPDATE_SNAPSHOTS=1 python -m pytest tests/tools/test_tools_list.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mcp import Client

from tests.support import Emulators, make_server

SNAPSHOT = Path(__file__).parent / "snapshots" / "tools_list.json"

WRITE_TOOLS = {"order_case", "cancel_case", "generate_report"}


async def surface(emulators: Emulators, era: str = "auto", **settings: object) -> list[dict[str, object]]:
    async with Client(make_server(emulators, **settings), mode=era) as client:  # type: ignore[arg-type]
        tools = await client.list_tools()
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools.tools]


async def test_tools_list_matches_snapshot(emulators: Emulators) -> None:
    current = await surface(emulators)
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    assert current == json.loads(SNAPSHOT.read_text())


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
