"""Concurrency: 100 concurrent ``search_cases`` over HTTP against a slow provider, against one call alone.
References: the same burst on the bare server (tool sleeps as long as the provider) and on the provider client."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from bench.harness import Config, Lab, Row, median
from bench.queries import SEARCHES

TARGET_RATIO = 1.5
PROVIDER = "commcare"


async def _burst_vs_alone(url: str, name: str, arguments: dict[str, Any], config: Config) -> tuple[float, float]:
    from mcp import Client

    async with Client(url) as client:

        async def call() -> None:
            result = await client.call_tool(name, arguments)
            if result.is_error:
                raise RuntimeError(f"{name} failed: {result.content}")

        async def burst() -> None:
            async with anyio.create_task_group() as tg:
                for _ in range(config.concurrency):
                    tg.start_soon(call)

        await burst()  # warm-up: opens the connection pools on every side
        alone: list[float] = []
        together: list[float] = []
        for _ in range(config.burst_runs):
            for _ in range(max(1, config.single_runs // config.burst_runs)):
                alone.append(await _timed(call))
            together.append(await _timed(burst))
        return median(together), median(alone)


async def _direct_burst_vs_alone(lab: Lab, config: Config) -> tuple[float, float]:
    client = lab.clients()[PROVIDER]
    search = SEARCHES[PROVIDER]

    async def call() -> None:
        await search.direct(client)

    async def burst() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(config.concurrency):
                tg.start_soon(call)

    try:
        await burst()
        alone: list[float] = []
        together: list[float] = []
        for _ in range(config.burst_runs):
            for _ in range(max(1, config.single_runs // config.burst_runs)):
                alone.append(await _timed(call))
            together.append(await _timed(burst))
        return median(together), median(alone)
    finally:
        await client.aclose()


async def _timed(fn: Callable[[], Awaitable[None]]) -> float:
    start = time.perf_counter()
    await fn()
    return (time.perf_counter() - start) * 1000


def run(lab: Lab, config: Config) -> list[Row]:
    figure = f"{config.concurrency} concurrent calls vs 1, HTTP, +{config.latency * 1000:g} ms"
    lab.set_latency(PROVIDER, config.latency)
    try:
        with lab.http_server() as url:
            ours = anyio.run(_burst_vs_alone, url, "search_cases", SEARCHES[PROVIDER].arguments, config)
        direct = anyio.run(_direct_burst_vs_alone, lab, config)
    finally:
        lab.set_latency(PROVIDER, 0)
    with lab.http_server(bare=True) as url:
        sleep = {"text": "x", "delay_ms": round(config.latency * 1000)}
        floor = anyio.run(_burst_vs_alone, url, "echo", sleep, config)
    return [
        Row("concurrency", f"search_cases {PROVIDER}: {figure}", *ours, "ms", "ratio", TARGET_RATIO, config.burst_runs),
        Row(
            "concurrency",
            f"reference: bare server, sleeping tool: {figure}",
            *floor,
            "ms",
            "ratio",
            None,
            config.burst_runs,
        ),
        Row(
            "concurrency",
            f"reference: {PROVIDER} client alone: {figure}",
            *direct,
            "ms",
            "ratio",
            None,
            config.burst_runs,
        ),
    ]
