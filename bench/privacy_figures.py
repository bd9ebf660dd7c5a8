"""Masking's cost: a CommCare patient's ``get_case`` under the default policy (``standard``) beside ``off``.

Both servers run in this process against the same emulator, so the difference is the masking pass.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from bench.harness import Config, Lab, Row, compact_json, median

FIGURE = "get_case commcare patient, in-process: privacy standard vs off"


@contextlib.asynccontextmanager
async def _servers(lab: Lab) -> AsyncIterator[tuple[Any, Any, dict[str, Any]]]:
    from casebridge.server.app import build_server
    from casebridge.server.env_settings import Settings
    from casebridge.server.wiring import build_registry

    fields: dict[str, Any] = {k.lower(): v for k, v in lab.env().items()}
    registries = [
        build_registry(Settings(_env_file=None, **fields, casebridge_privacy=level, casebridge_read_only=True))
        for level in ("standard", "off")
    ]
    standard, off = (build_server(r) for r in registries)
    try:
        found = await off.call_tool(
            "search_cases", {"provider": "commcare", "commcare": {"case_type": "patient"}, "limit": 1}
        )
        ref = found.structured_content["cases"][0]["ref"]  # type: ignore[union-attr]
        yield standard, off, {"ref": ref, "include": ["parent"]}
    finally:
        for registry in registries:
            await registry.aclose()


def _size(result: Any) -> int:
    text = "".join(block.text for block in result.content if block.type == "text")
    return len(text.encode()) + len(compact_json(result.structured_content))


async def size_row(lab: Lab) -> Row:
    async with _servers(lab) as (standard, off, args):
        masked, plain = await standard.call_tool("get_case", args), await off.call_tool("get_case", args)
    return Row(
        "result size",
        FIGURE + " (text + structured)",
        _size(masked) / 1000,
        _size(plain) / 1000,
        "kB",
        "share",
        None,
        1,
    )


async def call_row(lab: Lab, config: Config, timed_pairs: Any) -> Row:
    async with _servers(lab) as (standard, off, args):

        async def masked() -> None:
            await standard.call_tool("get_case", args)

        async def plain() -> None:
            await off.call_tool("get_case", args)

        with_masking, without = await timed_pairs(masked, plain, config)
    return Row(
        "per-call overhead",
        "reference: " + FIGURE,
        median(with_masking),
        median(without),
        "ms",
        "added",
        None,
        config.call_runs,
    )
