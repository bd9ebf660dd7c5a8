"""The tools a fully configured server offers, and ``python -m tests.bundle.manifest_sync`` to copy
them into ``manifest.json`` after a tool is added or its description changes."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from tests.support import ROOT

MANIFEST = ROOT / "manifest.json"
# The Certn write tools (issue 4). Until they are registered the manifest keeps its entries for them.
WRITE_TOOLS = ("order_case", "cancel_case", "generate_report")


async def live_tools() -> list[dict[str, str]]:
    """``tools/list`` (name, description) of a server with every provider configured, not read-only."""
    from casebridge.server.app import build_server
    from casebridge.server.env_settings import Settings
    from casebridge.server.sandbox import build_emulators, in_process_transports, sandbox_settings
    from casebridge.server.wiring import build_registry

    with tempfile.TemporaryDirectory() as data_dir:
        base = Settings(_env_file=None, casebridge_data_dir=Path(data_dir))  # type: ignore[call-arg]
        registry = build_registry(
            sandbox_settings(base), read_only=False, transports=in_process_transports(build_emulators())
        )
        try:
            async with Client(build_server(registry)) as client:
                tools = (await client.list_tools()).tools
        finally:
            await registry.aclose()
    return [{"name": t.name, "description": t.description or ""} for t in tools]


def expected_manifest_tools(manifest: dict[str, Any], live: list[dict[str, str]]) -> list[dict[str, str]]:
    """``live``, plus the manifest's own entries for write tools not registered yet."""
    names = {t["name"] for t in live}
    pending = [t for t in manifest.get("tools", []) if t["name"] in WRITE_TOOLS and t["name"] not in names]
    return live + pending


def main() -> None:
    manifest = json.loads(MANIFEST.read_text())
    manifest["tools"] = expected_manifest_tools(manifest, anyio.run(live_tools))
    MANIFEST.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    print(f"{MANIFEST.name}: {len(manifest['tools'])} tools")


if __name__ == "__main__":
    main()
