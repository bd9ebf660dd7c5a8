"""Load: 1,000 tool calls from 50 concurrent clients over Streamable HTTP, against slow emulators.

Three processes, as in production: the emulators (``casebridge sandbox``, every answer delayed),
the casebridge server (``--transport http``) and this test's 50 clients (half in each protocol era).
Every call must succeed; the server's resident memory after the run must stay within the bound
stated below. No assertion is about time.

Marked ``slow`` (it needs about a minute on a 2-core machine): run it with
``python -m pytest -m slow tests/reliability/test_load.py``.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2 as httpx
import pytest
from mcp import Client

from casebridge.sandbox.emulation import free_port
from tests.support import PYTHON, ROOT, subprocess_env, text_of

CLIENTS = 50
CALLS_PER_CLIENT = 20  # 1,000 calls in all
EMULATOR_LATENCY = 0.05  # seconds added to every provider answer
# Memory bound: the server may grow by at most this much over its warmed-up size, and never past
# the absolute cap (a casebridge server idles near 100 MB; a leak of ~100 kB per call would break it).
RSS_GROWTH_LIMIT_MB = 80
RSS_ABSOLUTE_LIMIT_MB = 400

pytestmark = pytest.mark.slow


def wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "did not start") from None
            time.sleep(0.05)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    from casebridge.sandbox.certn import app as certn
    from casebridge.sandbox.clearinghouse import app as clearinghouse
    from casebridge.sandbox.commcare import app as commcare

    emu_port, port = free_port(), free_port()
    emulators = subprocess.Popen(
        [PYTHON, "-m", "server", "sandbox", "--port", str(emu_port)],
        env=subprocess_env(),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    procs = [emulators]
    try:
        wait_port(emu_port, emulators)
        base = f"http://127.0.0.1:{emu_port}"
        for name in ("clearinghouse", "commcare", "certn"):
            httpx.post(f"{base}/_emulator/{name}/faults", json={"latency": EMULATOR_LATENCY}).raise_for_status()
        env = {
            "CLEARINGHOUSE_BASE_URL": f"{base}/api/v2p1",
            "CLEARINGHOUSE_API_TOKEN": clearinghouse.SANDBOX_TOKEN,
            "COMMCARE_BASE_URL": base,
            "COMMCARE_DOMAIN": commcare.SANDBOX_DOMAIN,
            "COMMCARE_USERNAME": commcare.SANDBOX_USERNAME,
            "COMMCARE_API_KEY": commcare.SANDBOX_API_KEY,
            "CERTN_BASE_URL": base,
            "CERTN_API_KEY": certn.SANDBOX_API_KEY,
            "CASEBRIDGE_DATA_DIR": str(tmp_path_factory.mktemp("load-data")),
        }
        server = subprocess.Popen(
            [PYTHON, "-m", "server", "--transport", "http", "--port", str(port)],
            env=subprocess_env(env),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        procs.append(server)
        wait_port(port, server)
        yield f"http://127.0.0.1:{port}/mcp", server
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


CALLS = [
    ("search_cases", {"provider": "clearinghouse", "limit": 5}),
    ("search_cases", {"provider": "commcare", "commcare": {"case_type": "patient"}, "limit": 5}),
    ("search_cases", {"provider": "certn", "limit": 5}),
    ("get_case", {"ref": "clearinghouse:15150", "include": ["documents"]}),
    ("search_cases", {"clearinghouse": {"case_type": "Prison Conditions"}, "limit": 3}),
]


async def test_thousand_calls_from_fifty_clients(stack: tuple[str, subprocess.Popen[bytes]]) -> None:
    url, server = stack
    failures: list[str] = []
    done = 0

    async def one_client(n: int) -> None:
        nonlocal done
        era = "legacy" if n % 2 else "auto"
        async with Client(url, mode=era, read_timeout_seconds=120) as client:  # type: ignore[arg-type]
            refs: list[str] = []
            for i in range(CALLS_PER_CLIENT):
                tool, args = CALLS[(n + i) % len(CALLS)]
                if i % 4 == 3 and refs:  # follow a ref this client was given, as a model would
                    tool, args = "get_case", {"ref": refs[(n + i) % len(refs)]}
                result = await client.call_tool(tool, args)
                done += 1
                if result.is_error:
                    failures.append(f"{tool} {json.dumps(args)}: {text_of(result)[:300]}")
                elif tool == "search_cases":
                    refs.extend(c["ref"] for c in result.structured_content["cases"])  # type: ignore[index]

    # Warm up (imports, pools, caches) before the memory baseline.
    async with Client(url) as client:
        for tool, args in CALLS:
            assert not (await client.call_tool(tool, args)).is_error
    baseline = rss_mb(server.pid)

    async with anyio.create_task_group() as group:
        for n in range(CLIENTS):
            group.start_soon(one_client, n)

    assert done == CLIENTS * CALLS_PER_CLIENT
    assert failures == [], f"{len(failures)} failed calls, e.g. {failures[:3]}"
    after = rss_mb(server.pid)
    print(f"server RSS: {baseline:.0f} MB warmed up, {after:.0f} MB after {done} calls")
    assert after - baseline <= RSS_GROWTH_LIMIT_MB, (baseline, after)
    assert after <= RSS_ABSOLUTE_LIMIT_MB, after
    assert server.poll() is None  # still serving
