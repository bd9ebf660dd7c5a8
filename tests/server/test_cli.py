"""The command line a newcomer meets: help, refused options, start-up lines, busy ports, a terminal on stdio."""

from __future__ import annotations

import os
import pty
import re
import select
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

from mcp import Client
from mcp.client.sse import sse_client

from tests.support import PYTHON, ROOT, subprocess_env, text_of

README = (ROOT / "README.md").read_text()
ANNOUNCED = re.compile(r"^casebridge INFO casebridge: casebridge \S+ is serving MCP \(([^)]+)\) at (\S+)$")


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "server", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env(env),
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )


def test_an_unknown_log_level_is_refused() -> None:
    done = cli("--log-level", "nonsense")
    assert done.returncode == 2 and done.stdout == ""
    assert "argument --log-level: invalid choice: 'NONSENSE'" in done.stderr
    assert "WARNING" in done.stderr  # the valid levels are named
    # Any letter case of a real level is accepted (parsing goes on to --version).
    assert cli("--log-level", "info", "--version").returncode == 0


def test_help_says_what_no_command_does_and_names_the_main_variables() -> None:
    done = cli("--help")
    assert done.returncode == 0
    usage = done.stdout.split("\n\n")[0]
    assert "casebridge [OPTIONS]" in usage and "serve MCP" in usage
    assert "casebridge COMMAND [ARGS]" in usage  # the command is optional, on a line of its own
    assert "With no COMMAND it serves MCP" in done.stdout
    assert 'README.md, section "Configuration"' in done.stdout and "#configuration" in done.stdout
    assert "## Configuration" in README
    variables = done.stdout.split("main environment variables")[1]
    named = set(re.findall(r"\b(?:CLEARINGHOUSE|COMMCARE|CERTN|CASEBRIDGE)_[A-Z_]+", variables))
    assert {"CLEARINGHOUSE_API_TOKEN", "COMMCARE_API_KEY", "CERTN_API_KEY", "CASEBRIDGE_SANDBOX"} <= named
    for variable in named:  # every variable the help names is in the README's table
        assert f"`{variable}`" in README, variable
    for command in ("sandbox", "doctor", "ledger", "config"):
        assert re.search(rf"^\s+{command}\s", done.stdout, re.M), command


@contextmanager
def started(*args: str) -> Iterator[tuple[subprocess.Popen[bytes], list[str]]]:
    """A casebridge process and its stderr lines up to the first non-empty one (the start-up line)."""
    proc = subprocess.Popen(
        [PYTHON, "-m", "server", *args],
        env=subprocess_env(),
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    try:
        lines = [proc.stderr.readline().decode().rstrip("\n")]
        yield proc, lines
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        proc.stderr.close()


async def test_http_announces_the_full_endpoint_once_it_accepts_connections() -> None:
    with started("--sandbox", "--transport", "http", "--port", "0") as (_, lines):
        found = ANNOUNCED.match(lines[0])
        assert found, lines
        assert found.group(1) == "Streamable HTTP"
        url = found.group(2)
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/mcp", url)
        # Announced after binding: the URL answers at once, as MCP, with no retry loop.
        async with Client(url, mode="legacy") as client:
            assert "search_cases" in {t.name for t in (await client.list_tools()).tools}


async def test_sse_announces_its_stream_url() -> None:
    with started("--sandbox", "--transport", "sse", "--port", "0") as (_, lines):
        found = ANNOUNCED.match(lines[0])
        assert found and found.group(1) == "SSE", lines
        assert found.group(2).endswith("/sse")
        async with Client(sse_client(found.group(2)), mode="legacy") as client:
            result = await client.call_tool("search_cases", {"provider": "certn", "limit": 1})
            assert not result.is_error, text_of(result)


@contextmanager
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_busy_port_is_one_line_and_a_failure() -> None:
    with busy_port() as port:
        for args in (["--sandbox", "--transport", "http"], ["--transport", "sse"], ["sandbox"]):
            done = cli(*args, "--port", str(port))
            assert done.returncode == 1, (args, done.stderr)
            assert done.stderr.splitlines() == [
                f"casebridge: port {port} on 127.0.0.1 is already in use: stop what is serving there, "
                "or choose another with --port"
            ], args
            assert "serving" not in done.stderr.split(":", 1)[1].split("stop what")[0]


def test_sandbox_command_announces_its_address_after_binding() -> None:
    import httpx2 as httpx

    from casebridge.sandbox.certn import app as certn

    with started("sandbox", "--port", "0") as (_, lines):
        found = re.fullmatch(r"casebridge emulators \(synthetic data\) on (http://127\.0\.0\.1:\d+)", lines[0])
        assert found, lines
        answer = httpx.get(
            found.group(1) + "/api/public/cases/", headers={"Authorization": f"Api-Key {certn.SANDBOX_API_KEY}"}
        )
        assert answer.status_code == 200 and answer.json()["results"]


def read_until(fd: int, needle: bytes, limit: float = 30) -> bytes:
    """What ``fd`` gives until ``needle`` appears (a bound on a hung process, not a timing assertion)."""
    seen = b""
    deadline = time.monotonic() + limit
    while needle not in seen:
        assert time.monotonic() < deadline, seen
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            chunk = os.read(fd, 4096)
            assert chunk, seen
            seen += chunk
    return seen


def test_a_person_typing_at_the_terminal_is_told_it_is_not_json_rpc() -> None:
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [PYTHON, "-m", "server", "--sandbox"],
        stdin=terminal,
        stdout=terminal,
        stderr=subprocess.PIPE,
        env=subprocess_env(),
        cwd=ROOT,
    )
    os.close(terminal)
    assert proc.stderr is not None
    try:
        err = proc.stderr.fileno()
        read_until(err, b"Ctrl-D or Ctrl-C stops it.\n")  # the greeting at a terminal
        os.write(controller, b"hello\n")
        told = read_until(err, b"stops it.\n").decode()
        assert "that line is not JSON-RPC" in told and "MCP client" in told
        os.write(controller, b"\x04")  # Ctrl-D: end of input
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(controller)
        proc.stderr.close()


def test_a_port_out_of_range_is_refused() -> None:
    for args in (["--port", "70000"], ["sandbox", "--port", "-1"]):
        done = cli(*args)
        assert done.returncode == 2 and "not a TCP port (0-65535)" in done.stderr, args
