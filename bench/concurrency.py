"""Concurrency: 100 concurrent ``search_cases`` over HTTP against a slow provider, against one call alone.
References: the same burst on the bare server (tool sleeps as long as the provider) and on the provider client;
and the burst spread over two casebridge worker processes against one (stateless workers, no affinity).

The timed calls go through ``LightClient``, a minimal HTTP/1.1 client on asyncio streams: the bench
process shares the machine's CPUs with the server and the emulators, and the SDK client alone would
spend more CPU per call than a lean server does. One SDK call first proves the server speaks MCP.
Per burst, an ``info`` row gives the CPU each process spent per call, to show when a burst is CPU-bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import anyio

from bench.harness import Config, Lab, Row, median, process_cpu_seconds
from bench.queries import SEARCHES

TARGET_RATIO = 1.5
PROVIDER = "commcare"
PROTOCOL_VERSION = "2026-07-28"  # the stateless era: no initialize, every request stands alone


class LightClient:
    """``tools/call`` for one tool and arguments over HTTP/1.1 keep-alive connections, nothing more.

    Each concurrent call takes an idle connection or opens one, so a burst of N holds N connections.
    The server must answer with a ``content-length`` JSON body (it does for the modern protocol era).
    """

    def __init__(self, url: str, name: str, arguments: Mapping[str, Any]) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"LightClient speaks plain http only, not {url!r}")
        self.name = name
        self._host = parts.hostname
        self._port = parts.port or 80
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {
                    "name": name,
                    "arguments": arguments,
                    "_meta": {
                        "io.modelcontextprotocol/protocolVersion": PROTOCOL_VERSION,
                        "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "0"},
                        "io.modelcontextprotocol/clientCapabilities": {},
                    },
                },
            },
            separators=(",", ":"),
        ).encode()
        head = (
            f"POST {parts.path or '/'} HTTP/1.1\r\n"
            f"host: {parts.netloc}\r\n"
            "accept: application/json, text/event-stream\r\n"
            "content-type: application/json\r\n"
            f"mcp-protocol-version: {PROTOCOL_VERSION}\r\n"
            "mcp-method: tools/call\r\n"
            f"mcp-name: {name}\r\n"
            f"content-length: {len(body)}\r\n"
            "\r\n"
        )
        self._request = head.encode("latin-1") + body
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def call(self) -> None:
        """One ``tools/call``; raises unless the answer is 200 with a JSON-RPC result that is not an error."""
        while self._idle:
            reader, writer = self._idle.pop()
            if reader.at_eof():  # the server closed it while idle
                writer.close()
                continue
            try:
                status, body, keep = await self._exchange(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                writer.close()  # a reused connection may have been closed under us: try a fresh one
                continue
            break
        else:
            reader, writer = await asyncio.open_connection(self._host, self._port)
            status, body, keep = await self._exchange(reader, writer)
        if keep:
            self._idle.append((reader, writer))
        else:
            writer.close()
        self._check(status, body)

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[int, bytes, bool]:
        writer.write(self._request)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
        if "content-length" not in headers:
            raise RuntimeError(
                f"{self.name}: HTTP {status} without content-length "
                f"({headers.get('content-type')!r}, {headers.get('transfer-encoding')!r}); LightClient cannot read it"
            )
        body = await reader.readexactly(int(headers["content-length"]))
        return status, body, headers.get("connection", "").lower() != "close"

    def _check(self, status: int, body: bytes) -> None:
        if status != 200:
            raise RuntimeError(f"{self.name}: HTTP {status}: {body[:300]!r}")
        message = json.loads(body)
        result = message.get("result") if isinstance(message, dict) else None
        if not isinstance(result, dict):
            raise RuntimeError(f"{self.name}: no JSON-RPC result: {body[:300]!r}")
        if result.get("isError") is True:
            raise RuntimeError(f"{self.name} failed: {result.get('content')}")

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for _, writer in idle:
            writer.close()
        for _, writer in idle:
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


@dataclass
class _Cpu:
    """CPU seconds used during the timed bursts: this process and other processes by label."""

    pids: dict[str, int]
    calls: int = 0
    wall: float = 0.0
    own: float = 0.0
    others: dict[str, float] = field(default_factory=dict)

    async def burst(self, burst: Callable[[], Awaitable[None]], calls: int) -> float:
        """Run and time ``burst`` (``calls`` calls), adding its CPU use; returns its milliseconds."""
        before = {label: process_cpu_seconds(pid) for label, pid in self.pids.items()}
        own = time.process_time()
        start = time.perf_counter()
        await burst()
        elapsed = time.perf_counter() - start
        self.own += time.process_time() - own
        for label, pid in self.pids.items():
            self.others[label] = self.others.get(label, 0.0) + process_cpu_seconds(pid) - before[label]
        self.calls += calls
        self.wall += elapsed
        return elapsed * 1000

    def row(self, what: str, runs: int) -> Row:
        # Per process: CPU per call, and the share of the bursts' wall time it was running (a single-threaded
        # server near 100% is the bottleneck even while the machine has CPU to spare).
        per_call = {"client": self.own, **self.others}
        wall = self.wall or math.inf
        parts = ", ".join(
            f"{label} {cpu / self.calls * 1000:.2f} ms ({cpu / wall:.0%})" for label, cpu in per_call.items()
        )
        total = sum(per_call.values())
        cpus = os.cpu_count() or 1
        return Row(
            "concurrency",
            f"CPU per call in the {what} burst (busy share of its time): {parts}; "
            f"all {total / (wall * cpus):.0%} of {cpus} CPUs",
            total / self.calls * 1000,
            None,
            "ms",
            "value",
            None,
            runs,
        )


async def _burst_vs_alone(
    url: str, name: str, arguments: dict[str, Any], config: Config, cpu: _Cpu
) -> tuple[float, float]:
    from mcp import Client

    async with Client(url) as sdk:  # one real MCP client call: the server is an MCP server, the tool works
        result = await sdk.call_tool(name, arguments)
        if result.is_error:
            raise RuntimeError(f"{name} failed: {result.content}")

    client = LightClient(url, name, arguments)
    try:
        return await _together_and_alone(client.call, config, cpu)
    finally:
        await client.aclose()


async def _direct_burst_vs_alone(lab: Lab, config: Config, cpu: _Cpu) -> tuple[float, float]:
    client = lab.clients()[PROVIDER]
    search = SEARCHES[PROVIDER]

    async def call() -> None:
        await search.direct(client)

    try:
        return await _together_and_alone(call, config, cpu)
    finally:
        await client.aclose()


Call = Callable[[], Coroutine[Any, Any, None]]


async def _together_and_alone(call: Call, config: Config, cpu: _Cpu) -> tuple[float, float]:
    """Median times of a burst of ``config.concurrency`` concurrent calls and of one call alone, interleaved."""

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
        together.append(await cpu.burst(burst, config.concurrency))
    return median(together), median(alone)


async def _two_workers_vs_one(
    urls: list[str], name: str, arguments: dict[str, Any], config: Config
) -> tuple[float, float]:
    """Median times of a burst spread evenly over the workers at ``urls`` and of the same burst on the first alone."""
    clients = [LightClient(url, name, arguments) for url in urls]

    async def burst(over: list[LightClient]) -> None:
        async with anyio.create_task_group() as tg:
            for i in range(config.concurrency):
                tg.start_soon(over[i % len(over)].call)

    try:
        await burst(clients)  # warm-up: every worker's pools and caches
        spread: list[float] = []
        single: list[float] = []
        for _ in range(config.burst_runs):
            single.append(await _timed(lambda: burst(clients[:1])))
            spread.append(await _timed(lambda: burst(clients)))
        return median(spread), median(single)
    finally:
        for client in clients:
            await client.aclose()


async def _timed(fn: Callable[[], Awaitable[None]]) -> float:
    start = time.perf_counter()
    await fn()
    return (time.perf_counter() - start) * 1000


def run(lab: Lab, config: Config) -> list[Row]:
    figure = f"{config.concurrency} concurrent calls vs 1, HTTP, +{config.latency * 1000:g} ms"
    lab.set_latency(PROVIDER, config.latency)
    try:
        with lab.http_server() as (url, pid):
            ours_cpu = _Cpu({"server": pid, "emulator": lab.emulator_pid})
            ours = anyio.run(_burst_vs_alone, url, "search_cases", SEARCHES[PROVIDER].arguments, config, ours_cpu)
        with lab.http_server() as (first, _), lab.http_server() as (second, _):  # stateless workers: no affinity
            workers = anyio.run(
                _two_workers_vs_one, [first, second], "search_cases", SEARCHES[PROVIDER].arguments, config
            )
        direct_cpu = _Cpu({"emulator": lab.emulator_pid})
        direct = anyio.run(_direct_burst_vs_alone, lab, config, direct_cpu)
    finally:
        lab.set_latency(PROVIDER, 0)
    with lab.http_server(bare=True) as (url, pid):
        sleep = {"text": "x", "delay_ms": round(config.latency * 1000)}
        floor_cpu = _Cpu({"server": pid})
        floor = anyio.run(_burst_vs_alone, url, "echo", sleep, config, floor_cpu)
    return [
        Row("concurrency", f"search_cases {PROVIDER}: {figure}", *ours, "ms", "ratio", TARGET_RATIO, config.burst_runs),
        ours_cpu.row("search_cases", config.burst_runs),
        Row(
            "concurrency",
            f"search_cases {PROVIDER}: {config.concurrency} concurrent calls over two workers vs one, HTTP,"
            f" +{config.latency * 1000:g} ms",
            *workers,
            "ms",
            "ratio",
            None,
            config.burst_runs,
        ),
        Row(
            "concurrency",
            f"reference: bare server, sleeping tool: {figure}",
            *floor,
            "ms",
            "ratio",
            None,
            config.burst_runs,
        ),
        floor_cpu.row("bare server", config.burst_runs),
        Row(
            "concurrency",
            f"reference: {PROVIDER} client alone: {figure}",
            *direct,
            "ms",
            "ratio",
            None,
            config.burst_runs,
        ),
        direct_cpu.row(f"{PROVIDER} client alone", config.burst_runs),
    ]
