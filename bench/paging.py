"""Deep paging: CommCare cases walked through ``search_cases``' cursor against the client following its cursors.
Reference rows: the client's ``jsonschema`` check of the pages (one page timed, times the page count), and
the best the SDK allows: the client's walk plus, per page, one stdio round trip of a page-sized text to the
bare server (what any MCP tool returning these pages would pay before doing any work of its own)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from bench.harness import BARE, Config, Lab, Row, median, schema_check_ms

TARGET_RATIO = 1.2


async def _walk_tool(mcp: Any, want: int, page_size: int, pages: list[Any] | None = None) -> int:
    arguments: dict[str, Any] = {"provider": "commcare", "limit": page_size}
    seen = 0
    while seen < want:
        result = await mcp.call_tool("search_cases", arguments)
        if result.is_error:
            raise RuntimeError(f"search_cases failed: {result.content}")
        structured = result.structured_content
        if pages is not None:
            pages.append(structured)
        seen += len(structured["cases"])
        cursor = structured.get("next_cursor")
        if not cursor:
            break
        arguments = {"cursor": cursor, "limit": page_size}
    return seen


async def _walk_client(client: Any, want: int, page_size: int) -> int:
    page = await client.list_cases_v2({}, limit=page_size)
    seen = len(page.cases)
    while seen < want and page.cursor:
        page = await client.list_cases_v2(None, cursor=page.cursor, limit=page_size)
        seen += len(page.cases)
    return seen


async def _sdk_round_trip_ms(lab: Lab, size: int, runs: int) -> float:
    """Median time of one stdio ``tools/call`` to the bare server that returns ``size`` characters.

    The SDK sends a ``str`` result twice (text, and structured content against its automatic output
    schema), as casebridge sends a page twice (text lines, structured rows).
    """
    from mcp import Client, StdioServerParameters

    bare = StdioServerParameters(command=BARE[0], args=BARE[1:], cwd=lab.cwd)
    async with Client(bare) as floor:
        samples: list[float] = []
        for i in range(runs + 5):
            start = time.perf_counter()
            await floor.call_tool("echo", {"text": "x", "repeat": size})
            if i >= 5:
                samples.append((time.perf_counter() - start) * 1000)
    return median(samples)


async def _measure(lab: Lab, config: Config) -> tuple[float, float, float, float]:
    import json

    from mcp import Client

    client = lab.clients()["commcare"]
    want, size = config.paging_cases, config.page_size
    via_tool: list[float] = []
    via_client: list[float] = []
    pages: list[Any] = []
    try:
        async with Client(lab.stdio_params()) as mcp:
            await _walk_tool(mcp, want, size, pages)  # also the tool's warm-up
            await _walk_client(client, want, size)
            listed = await mcp.list_tools()
            (schema,) = [t.output_schema for t in listed.tools if t.name == "search_cases"]
            walks: list[tuple[list[float], Callable[[], Awaitable[int]]]] = [
                (via_tool, lambda: _walk_tool(mcp, want, size)),
                (via_client, lambda: _walk_client(client, want, size)),
            ]
            for i in range(config.paging_runs):
                for samples, walk in walks if i % 2 == 0 else reversed(walks):
                    start = time.perf_counter()
                    seen = await walk()
                    samples.append((time.perf_counter() - start) * 1000)
                    if seen < want:
                        raise RuntimeError(f"walked only {seen} of {want} cases")
    finally:
        await client.aclose()
    round_trip = await _sdk_round_trip_ms(lab, len(json.dumps(pages[0])), max(10, config.paging_runs * 5))
    floor = median(via_client) + round_trip * len(pages)
    return median(via_tool), median(via_client), schema_check_ms(schema, pages[0], 5) * len(pages), floor


def run(lab: Lab, config: Config) -> list[Row]:
    tool, client, validation, floor = anyio.run(_measure, lab, config)
    return [
        Row(
            "deep paging",
            f"{config.paging_cases} CommCare cases, {config.page_size} a page: tool cursor vs client",
            tool,
            client,
            "ms",
            "ratio",
            TARGET_RATIO,
            config.paging_runs,
        ),
        Row(
            "deep paging",
            "reference: of which client-side outputSchema checks, all pages",
            validation,
            None,
            "ms",
            "value",
            None,
            5,
        ),
        Row(
            "deep paging",
            "reference: SDK floor, client walk + a bare-server stdio round trip of a page per page",
            floor,
            client,
            "ms",
            "ratio",
            None,
            config.paging_runs,
        ),
    ]
