"""server.stdio: stdout carries JSON-RPC only, bad lines are answered, and a file on stdin works too."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path
from typing import Any

from tests.server.test_process import INIT
from tests.support import PYTHON, ROOT, subprocess_env

INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}

# A one-tool server on server.stdio whose tool writes to stdout behind the transport's back.
NOISY_SERVER = textwrap.dedent(
    """
    import os, sys
    import anyio
    from mcp.server import MCPServer
    import casebridge.server.stdio as transport

    transport.MAX_LINE = int(sys.argv[1])
    app = MCPServer("noisy")

    @app.tool()
    def shout(text: str) -> str:
        print("stray print", text)
        sys.stdout.flush()
        os.write(1, b"stray write\\n")
        return text

    async def main() -> None:
        async with transport.stdio_streams() as (read, write):
            low = app._lowlevel_server
            await low.run(read, write, low.create_initialization_options())

    anyio.run(main)
    """
)


def _exchange(command: list[str], lines: list[str], ids: set[int]) -> tuple[dict[Any, Any], bytes]:
    """Write ``lines``, read until every id in ``ids`` is answered, close stdin; answers by id and stderr.

    Every stdout line must be a JSON-RPC message, and the process must exit 0 on EOF.
    """
    proc = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=subprocess_env(),
        cwd=ROOT,
    )
    assert proc.stdin and proc.stdout and proc.stderr
    proc.stdin.write("".join(line + "\n" for line in lines).encode())
    proc.stdin.flush()
    answers: dict[Any, Any] = {}
    while not ids <= answers.keys():
        line = proc.stdout.readline()
        assert line, "server closed stdout early: " + proc.stderr.read().decode()
        message = json.loads(line)
        assert message["jsonrpc"] == "2.0"
        answers[message.get("id")] = message
    proc.stdin.close()
    assert proc.wait(timeout=10) == 0
    assert proc.stdout.read() == b""
    return answers, proc.stderr.read()


def _run_noisy(lines: list[str], ids: set[int], max_line: int = 1 << 20) -> tuple[dict[Any, Any], bytes]:
    return _exchange([PYTHON, "-c", NOISY_SERVER, str(max_line)], lines, ids)


def test_output_behind_the_transports_back_goes_to_stderr() -> None:
    call = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "shout", "arguments": {"text": "hi"}}}
    answers, stderr = _run_noisy([json.dumps(m) for m in (INIT, INITIALIZED, call)], {1, 3})
    assert answers[3]["result"]["content"][0]["text"] == "hi"
    assert b"stray print hi" in stderr and b"stray write" in stderr


def test_a_line_over_the_limit_is_refused_and_the_session_goes_on() -> None:
    oversized = '{"jsonrpc": "2.0", "id": 9, "method": "ping", "x": "' + "a" * 5000 + '"}'
    answers, stderr = _run_noisy([oversized, *map(json.dumps, (INIT, INITIALIZED, LIST))], {1, 2}, 1024)
    assert 9 not in answers  # never read whole, so answered only as a line too long
    assert answers[None]["error"]["code"] == -32600 and "longer than 1024 bytes" in answers[None]["error"]["message"]
    assert answers[2]["result"]["tools"][0]["name"] == "shout"
    assert b"longer than 1024 bytes" in stderr


def test_stdin_from_a_regular_file_is_served(tmp_path: Path) -> None:
    requests = tmp_path / "requests.jsonl"
    # A file cannot be polled: it is read in a worker thread (tests/server/test_stdio_hostile.py has more).
    requests.write_text(json.dumps(INIT) + "\n")
    with requests.open("rb") as stdin:
        proc = subprocess.run(
            [PYTHON, "-m", "server"], stdin=stdin, capture_output=True, timeout=60, env=subprocess_env(), cwd=ROOT
        )
    assert proc.returncode == 0, proc.stderr.decode()
    answers = {m.get("id"): m for m in map(json.loads, proc.stdout.decode().splitlines())}
    assert answers[1]["result"]["serverInfo"]["name"] == "casebridge"
