"""Per-call overhead: ``search_cases`` through a stdio client against the provider client's own call.
References: casebridge's in-process share, the client's output-schema check, the SDK's floor (bare server)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from bench import privacy_figures
from bench.harness import BARE, Config, Lab, Row, median, schema_check_ms
from bench.queries import SEARCHES

TARGET_ADDED_MS = 2.0

Call = Callable[[], Awaitable[Any]]


async def _timed_pairs(a: Call, b: Call, config: Config) -> tuple[list[float], list[float]]:
    """Interleaved timings (ms) of ``a`` and ``b``, alternating which goes first."""
    for _ in range(config.call_warmup):
        await a()
        await b()
    first: list[float] = []
    second: list[float] = []
    for i in range(config.call_runs):
        pairs = [(first, a), (second, b)]
        for samples, fn in pairs if i % 2 == 0 else reversed(pairs):
            start = time.perf_counter()
            await fn()
            samples.append((time.perf_counter() - start) * 1000)
    return first, second


async def _measure(lab: Lab, config: Config) -> list[Row]:
    from mcp import Client, StdioServerParameters

    clients = lab.clients()
    rows: list[Row] = []
    last: dict[str, Any] = {}
    try:
        async with Client(lab.stdio_params()) as mcp:
            for name, search in SEARCHES.items():

                async def tool(arguments: dict[str, Any] = search.arguments) -> None:
                    result = await mcp.call_tool("search_cases", arguments)
                    if result.is_error:
                        raise RuntimeError(f"search_cases failed: {result.content}")
                    last["result"] = result

                async def direct(client: Any = clients[name], call: Any = search.direct) -> None:
                    await call(client)

                via_tool, via_client = await _timed_pairs(tool, direct, config)
                rows.append(
                    Row(
                        "per-call overhead",
                        f"search_cases {name}, 10 cases, stdio vs client",
                        median(via_tool),
                        median(via_client),
                        "ms",
                        "added",
                        TARGET_ADDED_MS,
                        config.call_runs,
                    )
                )
            listed = await mcp.list_tools()
            (schema,) = [t.output_schema for t in listed.tools if t.name == "search_cases"]
        rows.append(await _in_process_row(lab, clients, config))
        rows.append(await privacy_figures.call_row(lab, config, _timed_pairs))  # masking on beside off
        rows.append(_validation_row(schema, last["result"].structured_content, config))

        bare = StdioServerParameters(command=BARE[0], args=BARE[1:], cwd=lab.cwd)
        async with Client(bare) as floor:

            async def echo() -> None:
                await floor.call_tool("echo", {"text": "x"})

            async def nothing() -> None:
                await anyio.lowlevel.checkpoint()

            via_floor, _ = await _timed_pairs(echo, nothing, config)
        rows.append(
            Row(
                "per-call overhead",
                "reference: SDK floor, trivial tool on the bare server, stdio",
                median(via_floor),
                None,
                "ms",
                "value",
                None,
                config.call_runs,
            )
        )
    finally:
        for client in clients.values():
            await client.aclose()
    return rows


async def _in_process_row(lab: Lab, clients: dict[str, Any], config: Config) -> Row:
    """``search_cases`` through ``CasebridgeServer.call_tool`` in this process against the client, same emulator."""
    from casebridge.server.app import build_server
    from casebridge.server.env_settings import Settings
    from casebridge.server.wiring import build_registry

    name = "commcare"
    search = SEARCHES[name]
    fields: dict[str, Any] = {k.lower(): v for k, v in lab.env().items()}
    settings = Settings(_env_file=None, **fields)
    registry = build_registry(settings)
    server = build_server(registry)

    async def tool() -> None:
        result = await server.call_tool("search_cases", search.arguments)
        if getattr(result, "is_error", False):
            raise RuntimeError(f"search_cases failed: {result}")

    async def direct() -> None:
        await search.direct(clients[name])

    try:
        via_tool, via_client = await _timed_pairs(tool, direct, config)
    finally:
        await registry.aclose()
    return Row(
        "per-call overhead",
        f"reference: casebridge's share, {name}, in-process call_tool vs client",
        median(via_tool),
        median(via_client),
        "ms",
        "added",
        None,
        config.call_runs,
    )


def _validation_row(schema: Any, structured: Any, config: Config) -> Row:
    runs = max(1, config.call_runs // 4)
    return Row(
        "per-call overhead",
        "reference: of which client-side outputSchema check, 10 cases",
        schema_check_ms(schema, structured, runs),
        None,
        "ms",
        "value",
        None,
        runs,
    )


def run(lab: Lab, config: Config) -> list[Row]:
    return anyio.run(_measure, lab, config)
