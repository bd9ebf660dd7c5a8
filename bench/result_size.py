"""Result size: a 10-case ``search_cases`` result against the raw provider JSON of its cases; ``tools/list``."""

from __future__ import annotations

import json
from typing import Any

import anyio

from bench import privacy_figures
from bench.cold_start import tools_list_line
from bench.harness import Config, Lab, Row, compact_json
from bench.queries import SEARCHES

TARGET_SHARE = 0.25
TARGET_TOOLS_LIST_TOKENS = 6000


async def _sizes(lab: Lab) -> list[Row]:
    from mcp import Client

    clients = lab.clients()
    rows: list[Row] = []
    try:
        async with Client(lab.stdio_params()) as mcp:
            for name, search in SEARCHES.items():
                client = clients[name]
                response = await client.http.get(search.raw_path(client), search.raw_params)
                response.raise_for_status()
                raw_cases = search.raw_cases(response.json())
                result = await mcp.call_tool("search_cases", search.arguments)
                if result.is_error:
                    raise RuntimeError(f"search_cases failed: {result.content}")
                structured: Any = result.structured_content
                refs = [case["ref"] for case in structured["cases"]]
                if refs != [search.ref_of(case) for case in raw_cases]:
                    raise RuntimeError(f"{name}: the tool and the raw request returned different cases")
                text = "".join(block.text for block in result.content if block.type == "text")
                raw = len(compact_json(raw_cases)) / 1000
                text_kb = len(text.encode()) / 1000
                both = text_kb + len(compact_json(structured)) / 1000
                # What the model reads is the text block; structuredContent is for the client (DESIGN.md).
                figure = f"search_cases {name}, {len(refs)} cases"
                rows.append(
                    Row("result size", f"{figure}: text vs raw JSON", text_kb, raw, "kB", "share", TARGET_SHARE, 1)
                )
                rows.append(
                    Row("result size", f"{figure}: text + structured vs raw JSON", both, raw, "kB", "share", None, 1)
                )
    finally:
        for client in clients.values():
            await client.aclose()
    return rows


def run(lab: Lab, config: Config) -> list[Row]:
    rows = anyio.run(_sizes, lab)
    rows.append(anyio.run(privacy_figures.size_row, lab))  # masking on beside off
    answer = json.loads(tools_list_line(lab))["result"]
    tokens = len(compact_json(answer)) / 4
    rows.append(
        Row(
            "result size",
            "tools/list, all providers (bytes / 4)",
            tokens,
            None,
            "tokens",
            "value",
            TARGET_TOOLS_LIST_TOKENS,
            1,
        )
    )
    return rows
