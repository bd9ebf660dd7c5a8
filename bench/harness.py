"""Shared benchmark machinery: run sizes, the emulator process, server processes, result rows, the table."""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from casebridge.sandbox.emulation import free_port

PYTHON = sys.executable
ROOT_DIR = Path(__file__).resolve().parent.parent
CASEBRIDGE = [PYTHON, "-m", "casebridge.server"]
BARE = [PYTHON, str(ROOT_DIR / "bench" / "bare_server.py")]  # by path: bench/ is not installed
NAIVE = [PYTHON, str(ROOT_DIR / "bench" / "naive_server.py")]


@dataclass(frozen=True)
class Config:
    """How much work each benchmark does; medians are over ``*_runs`` measurements."""

    name: str
    cold_runs: int
    call_warmup: int
    call_runs: int
    concurrency: int
    latency: float
    single_runs: int
    burst_runs: int
    paging_cases: int
    paging_runs: int
    page_size: int = 50


FULL = Config(
    "full",
    cold_runs=15,
    call_warmup=20,
    call_runs=300,
    concurrency=100,
    latency=0.1,
    single_runs=15,
    burst_runs=7,
    paging_cases=2000,
    paging_runs=7,
)
QUICK = Config(
    "quick",
    cold_runs=6,
    call_warmup=10,
    call_runs=80,
    concurrency=100,
    latency=0.1,
    single_runs=7,
    burst_runs=3,
    paging_cases=2000,
    paging_runs=3,
)
# For the smoke test: every code path once, no meaningful numbers.
TINY = Config(
    "tiny",
    cold_runs=1,
    call_warmup=1,
    call_runs=1,
    concurrency=10,  # enough CPU in a burst to register in /proc clock ticks (10 ms)
    latency=0.01,
    single_runs=1,
    burst_runs=1,
    paging_cases=100,
    paging_runs=1,
)

Compare = Literal["ratio", "added", "share", "value"]


@dataclass(frozen=True)
class Row:
    """One figure of the table. ``score`` (the ratio, the added amount or the value) is held to ``target``."""

    bench: str
    figure: str
    value: float
    baseline: float | None
    unit: str
    compare: Compare
    target: float | None  # None: a reference figure, not held to a target
    runs: int

    @property
    def score(self) -> float:
        if self.compare == "value":
            return self.value
        assert self.baseline is not None
        if self.compare == "added":
            return self.value - self.baseline
        return self.value / self.baseline if self.baseline else math.inf

    @property
    def passed(self) -> bool:
        return self.target is None or self.score <= self.target

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "info"
        return "pass" if self.passed else "FAIL"

    def cells(self) -> list[str]:
        return [
            self.bench,
            self.figure,
            f"{_num(self.value)} {self.unit}",
            "-" if self.baseline is None else f"{_num(self.baseline)} {self.unit}",
            self._format(self.score),
            "-" if self.target is None else "<= " + self._format(self.target),
            self.verdict,
            str(self.runs),
        ]

    def _format(self, x: float) -> str:
        if self.compare == "ratio":
            return f"x{x:.2f}"
        if self.compare == "share":
            return f"{x:.0%}"
        if self.compare == "added":
            return f"+{x:.2f} {self.unit}"
        return f"{_num(x)} {self.unit}"


def _num(x: float) -> str:
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


HEADERS = ["benchmark", "figure", "median", "baseline", "ratio / added", "target", "result", "n"]


def render_table(rows: Sequence[Row]) -> str:
    """A Markdown table (readable as plain text too)."""
    table = [HEADERS, *(r.cells() for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADERS))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [line(HEADERS), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out.extend(line(cells) for cells in table[1:])
    return "\n".join(out)


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                cpu = text.split(":", 1)[1].strip()
                break
    return (
        f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds used so far by process ``pid`` (all its threads), from ``/proc``.

    Resolution is one clock tick (usually 10 ms): read it around work of many calls, not one.
    """
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


# -- processes ---------------------------------------------------------------------------------


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The bench's environment minus any provider or casebridge variable, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CLEARINGHOUSE_", "COMMCARE_", "CERTN_", "CASEBRIDGE_"))
    }
    env.update(extra or {})
    env["PYTHONUNBUFFERED"] = "1"
    return env


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listened on port {port} within {timeout:g} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Lab:
    """The three emulators in their own process on one loopback port, and a scratch working directory.

    Servers run with the scratch directory as cwd, so a ``.env`` in the repository cannot change them.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._tmp = tempfile.TemporaryDirectory(prefix="casebridge-bench-")
        self.cwd = self._tmp.name
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Lab:
        self._proc = subprocess.Popen(
            [*CASEBRIDGE, "sandbox", "--port", str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=child_env(),
            cwd=self.cwd,
        )
        wait_for_port(self.port, self._proc)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            stop(self._proc)
        self._tmp.cleanup()

    def env(self) -> dict[str, str]:
        """Variables that configure all three providers against the emulators."""
        from casebridge.sandbox.certn import app as certn
        from casebridge.sandbox.clearinghouse import app as clearinghouse
        from casebridge.sandbox.commcare import app as commcare

        return {
            "CLEARINGHOUSE_API_TOKEN": clearinghouse.SANDBOX_TOKEN,
            "CLEARINGHOUSE_BASE_URL": f"{self.base}/api/v2p1",
            "COMMCARE_USERNAME": commcare.SANDBOX_USERNAME,
            "COMMCARE_API_KEY": commcare.SANDBOX_API_KEY,
            "COMMCARE_DOMAIN": commcare.SANDBOX_DOMAIN,
            "COMMCARE_BASE_URL": self.base,
            "CERTN_API_KEY": certn.SANDBOX_API_KEY,
            "CERTN_BASE_URL": self.base,
        }

    def set_latency(self, provider: str, seconds: float) -> None:
        """Latency the emulator adds to every request of ``provider`` (0 to switch off)."""
        body = json.dumps({"latency": seconds}).encode()
        request = urllib.request.Request(f"{self.base}/_emulator/{provider}/faults", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    @property
    def emulator_pid(self) -> int:
        """The process id of the emulators' process (for CPU accounting)."""
        assert self._proc is not None, "the Lab is not running"
        return self._proc.pid

    @contextlib.contextmanager
    def http_server(self, bare: bool = False, naive: bool = False) -> Iterator[tuple[str, int]]:
        """casebridge (configured for the emulators), the bare server or the naive peer over Streamable HTTP.

        Yields the MCP URL and the server's process id (for CPU accounting).
        """
        port = free_port()
        if bare:
            command, env = [*BARE, "--http", str(port)], {}
        elif naive:
            command, env = [*NAIVE, "--http", str(port)], self.env()
        else:
            command, env = [*CASEBRIDGE, "--transport", "http", "--port", str(port)], self.env()
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=child_env(env),
            cwd=self.cwd,
        )
        try:
            wait_for_port(port, proc)
            yield f"http://127.0.0.1:{port}/mcp", proc.pid
        finally:
            stop(proc)

    def stdio_params(self) -> Any:
        from mcp import StdioServerParameters

        return StdioServerParameters(command=CASEBRIDGE[0], args=CASEBRIDGE[1:], env=self.env(), cwd=self.cwd)

    def clients(self) -> dict[str, Any]:
        """Provider clients in this process, pointed at the same emulators (default HTTP policy)."""
        from casebridge.providers.certn.client import CertnClient
        from casebridge.providers.clearinghouse.client import ClearinghouseClient
        from casebridge.providers.commcare.client import CommCareClient

        e = self.env()
        return {
            "clearinghouse": ClearinghouseClient.connect(e["CLEARINGHOUSE_BASE_URL"], e["CLEARINGHOUSE_API_TOKEN"]),
            "commcare": CommCareClient.connect(
                e["COMMCARE_BASE_URL"], e["COMMCARE_USERNAME"], e["COMMCARE_API_KEY"], e["COMMCARE_DOMAIN"]
            ),
            "certn": CertnClient.connect(e["CERTN_BASE_URL"], e["CERTN_API_KEY"]),
        }


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}},
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
TOOLS_LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}


def spawn_to_tools_list(command: Sequence[str], env: dict[str, str], cwd: str) -> tuple[float, bytes]:
    """Seconds from spawning ``command`` to the whole ``tools/list`` answer on its stdout, and that answer's line.

    The three messages are written at once; they wait in the pipe until the server reads them.
    """
    payload = b"".join(json.dumps(m).encode() + b"\n" for m in (INITIALIZE, INITIALIZED, TOOLS_LIST))
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(command),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=child_env(env),
        cwd=cwd,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(payload)
        proc.stdin.flush()
        while True:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"{command!r} closed stdout before answering tools/list")
            if json.loads(line).get("id") == 2:
                elapsed = time.perf_counter() - start
                break
        proc.stdin.close()
        proc.wait(timeout=10)
    finally:
        stop(proc)
    return elapsed, line


def compact_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def schema_check_ms(schema: Any, instance: Any, runs: int) -> float:
    """Median ms the Python SDK's client spends checking ``instance`` against an output schema (``jsonschema``)."""
    from jsonschema.validators import validator_for  # type: ignore[import-untyped]
    from referencing import Registry

    validator = validator_for(schema)(schema, registry=Registry())
    list(validator.iter_errors(instance))
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        list(validator.iter_errors(instance))
        samples.append((time.perf_counter() - start) * 1000)
    return median(samples)
