"""casebridge against the naive peer (``bench/naive_server.py``), every figure as casebridge / naive, same run:
cold start, stdio per-call latency and server CPU, a 100-call HTTP burst's latency and CPU per call, result bytes."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

from bench.concurrency import PROVIDER, LightClient, _Cpu
from bench.harness import CASEBRIDGE, NAIVE, Config, Lab, Row, compact_json, median, process_cpu_seconds
from bench.harness import spawn_to_tools_list as spawn
from bench.queries import SEARCHES

BENCH = "vs naive"
TARGET_COLD = 1.15
TARGET = 1.0
BLOCK = 20  # calls per CPU block: /proc counts CPU in 10 ms ticks, so CPU is read around blocks, not calls


def naive_arguments(name: str) -> dict[str, Any]:
    return {"provider": name, "params": SEARCHES[name].raw_params}


def _ratio_row(figure: str, ours: float, naive: float, unit: str, target: float | None, runs: int) -> Row:
    return Row(BENCH, figure, ours, naive, unit, "ratio", target, runs)


def _cold_start(lab: Lab, config: Config) -> Row:
    ours: list[float] = []
    naive: list[float] = []
    spawn(NAIVE, lab.env(), lab.cwd)
    spawn(CASEBRIDGE, lab.env(), lab.cwd)
    for i in range(config.cold_runs):
        pairs = [(naive, NAIVE), (ours, CASEBRIDGE)]
        for samples, command in pairs if i % 2 == 0 else reversed(pairs):
            samples.append(spawn(command, lab.env(), lab.cwd)[0] * 1000)
    return _ratio_row(
        "cold start: spawn -> first tools/list, stdio", median(ours), median(naive), "ms", TARGET_COLD, config.cold_runs
    )


def _children() -> set[int]:
    """Process ids of this process's children (all threads)."""
    out: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        text = (task / "children").read_text()
        out.update(int(pid) for pid in text.split())
    return out


def _cmdline(pid: int) -> str:
    return (Path(f"/proc/{pid}/cmdline").read_bytes()).replace(b"\0", b" ").decode()


Call = Callable[[], Awaitable[Any]]


async def _blocks(a: Call, a_pid: int, b: Call, b_pid: int, config: Config) -> tuple[list[float], ...]:
    """Interleaved blocks of calls to ``a`` and ``b``: per-call ms of each, their servers' CPU ms per call
    (one figure each: all blocks' CPU over all their calls, since /proc counts in 10 ms ticks), and this
    client's CPU ms per call for each (reading the answer, checking it against the tool's output schema)."""
    block = max(1, min(BLOCK, config.call_runs))
    rounds = max(1, config.call_runs // block)
    for _ in range(config.call_warmup):
        await a()
        await b()
    times: tuple[list[float], list[float]] = ([], [])
    cpu = [0.0, 0.0]
    client = [0.0, 0.0]
    sides = [(0, a, a_pid), (1, b, b_pid)]
    for i in range(rounds):
        for side, fn, pid in sides if i % 2 == 0 else reversed(sides):
            before, mine = process_cpu_seconds(pid), time.process_time()
            for _ in range(block):
                start = time.perf_counter()
                await fn()
                times[side].append((time.perf_counter() - start) * 1000)
            cpu[side] += (process_cpu_seconds(pid) - before) * 1000
            client[side] += (time.process_time() - mine) * 1000
    n0, n1 = len(times[0]), len(times[1])
    return times[0], times[1], [cpu[0] / n0], [cpu[1] / n1], [client[0] / n0], [client[1] / n1]


async def _stdio(lab: Lab, config: Config) -> list[Row]:
    from mcp import Client, StdioServerParameters

    from bench.harness import child_env

    naive_params = StdioServerParameters(command=NAIVE[0], args=NAIVE[1:], env=child_env(lab.env()), cwd=lab.cwd)
    rows: list[Row] = []
    sizes: list[Row] = []
    before = _children()
    async with Client(lab.stdio_params()) as ours, Client(naive_params) as naive:
        pids = {"ours": 0, "naive": 0}
        for pid in _children() - before:
            pids["naive" if "naive_server" in _cmdline(pid) else "ours"] = pid
        for name, search in SEARCHES.items():
            peer_arguments = naive_arguments(name)

            async def tool(arguments: dict[str, Any] = search.arguments) -> Any:
                result = await ours.call_tool("search_cases", arguments)
                if result.is_error:
                    raise RuntimeError(f"search_cases failed: {result.content}")
                return result

            async def peer(arguments: dict[str, Any] = peer_arguments) -> Any:
                result = await naive.call_tool("search_cases", arguments)
                if result.is_error:
                    raise RuntimeError(f"naive search_cases failed: {result.content}")
                return result

            t_ours, t_naive, c_ours, c_naive, k_ours, k_naive = await _blocks(
                tool, pids["ours"], peer, pids["naive"], config
            )
            n = len(t_ours)
            rows.append(
                _ratio_row(
                    f"stdio call, search_cases {name}, 10 cases", median(t_ours), median(t_naive), "ms", TARGET, n
                )
            )
            rows.append(
                _ratio_row(
                    f"server CPU per stdio call, {name}",
                    median(c_ours) or 0.001,
                    median(c_naive) or 0.001,
                    "ms",
                    TARGET,
                    n,
                )
            )
            rows.append(
                Row(
                    BENCH,
                    f"reference: client CPU per stdio call, {name} (answer read and schema-checked)",
                    median(k_ours),
                    median(k_naive),
                    "ms",
                    "ratio",
                    None,
                    n,
                )
            )
            sizes.extend(_size_rows(name, await tool(), await peer()))
    return rows + sizes


def _size_rows(name: str, ours: Any, naive: Any) -> list[Row]:
    def text(result: Any) -> int:
        return sum(len(block.text.encode()) for block in result.content if block.type == "text")

    def both(result: Any) -> int:
        return text(result) + len(compact_json(result.structured_content))

    return [
        _ratio_row(f"result bytes, {name}: text", text(ours) / 1000, text(naive) / 1000, "kB", TARGET, 1),
        _ratio_row(f"result bytes, {name}: text + structured", both(ours) / 1000, both(naive) / 1000, "kB", TARGET, 1),
    ]


async def _burst(url: str, name: str, arguments: dict[str, Any], config: Config, cpu: _Cpu) -> float:
    from mcp import Client

    async with Client(url) as sdk:  # one real MCP call first: the server answers this tool
        result = await sdk.call_tool(name, arguments)
        if result.is_error:
            raise RuntimeError(f"{name} failed: {result.content}")
    client = LightClient(url, name, arguments)

    async def burst() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(config.concurrency):
                tg.start_soon(client.call)

    try:
        await burst()  # warm-up: every pool opens its connections
        return await cpu.burst(burst, config.concurrency)
    finally:
        await client.aclose()


def _bursts(lab: Lab, config: Config) -> list[Row]:
    ours_cpu = _Cpu({"server": 0})
    naive_cpu = _Cpu({"server": 0})
    ours: list[float] = []
    naive: list[float] = []
    lab.set_latency(PROVIDER, config.latency)
    try:
        with lab.http_server() as (url, pid), lab.http_server(naive=True) as (naive_url, naive_pid):
            ours_cpu.pids["server"], naive_cpu.pids["server"] = pid, naive_pid
            sides = [
                (ours, url, SEARCHES[PROVIDER].arguments, ours_cpu),
                (naive, naive_url, naive_arguments(PROVIDER), naive_cpu),
            ]
            for i in range(config.burst_runs):
                for samples, at, arguments, cpu in sides if i % 2 == 0 else reversed(sides):
                    samples.append(anyio.run(_burst, at, "search_cases", arguments, config, cpu))
    finally:
        lab.set_latency(PROVIDER, 0)
    per_call = {
        side: cpu.others["server"] / cpu.calls * 1000 for side, cpu in (("ours", ours_cpu), ("naive", naive_cpu))
    }
    figure = f"{config.concurrency}-call HTTP burst, {PROVIDER}, +{config.latency * 1000:g} ms"
    return [
        _ratio_row(figure, median(ours), median(naive), "ms", TARGET, config.burst_runs),
        _ratio_row(
            f"server CPU per call in the {figure}", per_call["ours"], per_call["naive"], "ms", TARGET, config.burst_runs
        ),
    ]


async def _in_process(lab: Lab, config: Config) -> Row:
    """Both servers' ``call_tool`` in this process (no transport, no client): the floor under the stdio rows."""
    import importlib.util
    import os

    from casebridge.server.app import build_server
    from casebridge.server.env_settings import Settings
    from casebridge.server.wiring import build_registry

    saved = dict(os.environ)
    os.environ.update(lab.env())  # the naive server reads its configuration when imported
    try:
        spec = importlib.util.spec_from_file_location("bench_naive_server", NAIVE[1])
        assert spec is not None and spec.loader is not None
        peer = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(peer)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    fields: dict[str, Any] = {k.lower(): v for k, v in lab.env().items()}
    registry = build_registry(Settings(_env_file=None, **fields))
    ours = build_server(registry)
    arguments, peer_arguments = SEARCHES[PROVIDER].arguments, naive_arguments(PROVIDER)

    async def tool() -> None:
        await ours.call_tool("search_cases", arguments)

    async def naive() -> None:
        await peer.server.call_tool("search_cases", peer_arguments)

    try:
        _, _, _, _, k_ours, k_naive = await _blocks(tool, os.getpid(), naive, os.getpid(), config)
    finally:
        await registry.aclose()
        for client in peer.CLIENTS.values():
            await client.aclose()
    return Row(
        BENCH,
        f"reference: in-process CPU per call_tool, {PROVIDER} (no transport, no client)",
        median(k_ours),
        median(k_naive),
        "ms",
        "ratio",
        None,
        config.call_runs,
    )


def run(lab: Lab, config: Config) -> list[Row]:
    rows = [_cold_start(lab, config)]
    rows.extend(anyio.run(_stdio, lab, config))
    rows.append(anyio.run(_in_process, lab, config))
    rows.extend(_bursts(lab, config))
    return rows
