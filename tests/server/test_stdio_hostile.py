"""stdio against a careless or hostile client: end of input with work in flight, garbage, huge lines, files."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path
from typing import Any

from casebridge.server.stdio import MAX_LINE
from tests.server.test_process import INIT
from tests.support import PYTHON, ROOT, Emulators, subprocess_env

INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
SERVER = [PYTHON, "-m", "server", "--sandbox"]

# A server on server.stdio with a short end-of-input grace: ``stall`` never finishes, ``ask`` asks the
# client a question (elicitation) and reports how that went.
GRACE_SERVER = textwrap.dedent(
    """
    import anyio
    from mcp.server import MCPServer
    from mcp.server.mcpserver import Context
    from pydantic import BaseModel
    from casebridge.server.stdio import stdio_streams

    app = MCPServer("grace")

    class Answer(BaseModel):
        ok: bool

    @app.tool()
    async def stall() -> str:
        await anyio.sleep_forever()
        return "never"

    @app.tool()
    async def ask(ctx: Context) -> str:
        try:
            await ctx.elicit("Go ahead?", Answer)
        except Exception as exc:
            return f"no answer: {exc}"
        return "answered"

    async def main() -> None:
        async with stdio_streams(grace=GRACE) as (read, write):
            low = app._lowlevel_server
            await low.run(read, write, low.create_initialization_options())

    GRACE = float(__import__("sys").argv[1])
    anyio.run(main)
    """
)


def _lines(*messages: Any) -> bytes:
    return b"".join((m if isinstance(m, bytes) else json.dumps(m).encode()) + b"\n" for m in messages)


def _replies(stdout: bytes) -> list[dict[str, Any]]:
    replies = [json.loads(line) for line in stdout.splitlines()]  # every stdout line is JSON-RPC
    assert all(r["jsonrpc"] == "2.0" for r in replies)
    return replies


def _by_id(replies: list[dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    return {r.get("id"): r for r in replies if "method" not in r}


def _run(command: list[str], stdin: bytes, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Pipe ``stdin`` in all at once and close it; the replies, after the process exited 0."""
    proc = subprocess.run(command, input=stdin, capture_output=True, timeout=90, env=subprocess_env(env), cwd=ROOT)
    assert proc.returncode == 0, proc.stderr.decode()
    return _replies(proc.stdout)


def call(request_id: int, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }


def test_tools_list_sent_just_before_the_end_of_input_is_answered_every_time() -> None:
    # Issue 11 item 8: tools/list went unanswered 3 runs in 3. Ten at once, to give any race its chance.
    procs = [
        subprocess.Popen(SERVER, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=subprocess_env(), cwd=ROOT)
        for _ in range(10)
    ]
    outputs = [proc.communicate(_lines(INIT, INITIALIZED, LIST), timeout=90)[0] for proc in procs]
    for proc, stdout in zip(procs, outputs, strict=True):
        assert proc.returncode == 0
        answers = _by_id(_replies(stdout))
        assert answers[1]["result"]["serverInfo"]["name"] == "casebridge"
        assert "search_cases" in {tool["name"] for tool in answers[2]["result"]["tools"]}


def test_a_slow_tool_call_in_flight_at_the_end_of_input_is_answered(emulators: Emulators) -> None:
    emulators["commcare"].latency = 1.0  # the call is still waiting on CommCare when stdin closes
    search = call(3, "search_cases", {"provider": "commcare", "limit": 2})
    answers = _by_id(_run([PYTHON, "-m", "server"], _lines(INIT, INITIALIZED, search), emulators.env()))
    assert answers[3]["result"]["isError"] is False, answers[3]
    assert answers[3]["result"]["structuredContent"]["cases"]


def test_what_is_still_running_after_the_grace_is_cancelled_with_an_answer() -> None:
    replies = _run([PYTHON, "-c", GRACE_SERVER, "0.5"], _lines(INIT, INITIALIZED, call(3, "stall", {})))
    assert _by_id(replies)[3]["error"]["code"] == -32000  # "Connection closed", not silence


def test_a_question_to_a_client_whose_input_ended_is_answered_for_it() -> None:
    init = {**INIT, "params": {**INIT["params"], "capabilities": {"elicitation": {"form": {}}}}}
    replies = _run([PYTHON, "-c", GRACE_SERVER, "60"], _lines(init, INITIALIZED, call(3, "ask", {})))
    assert any(r.get("method") == "elicitation/create" for r in replies)
    text = _by_id(replies)[3]["result"]["content"][0]["text"]
    assert text.startswith("no answer:") and "input has ended" in text


def test_lines_that_are_not_json_rpc_get_an_error_and_the_session_goes_on() -> None:
    not_a_message = {"hello": "world"}
    bad_request = {"jsonrpc": "2.0", "id": 7, "method": 42}
    replies = _run(SERVER, _lines(INIT, INITIALIZED, b"hello", not_a_message, b"", bad_request, LIST))
    errors = [r for r in replies if "error" in r]
    assert [(e["id"], e["error"]["code"]) for e in errors] == [(None, -32700), (None, -32600), (7, -32600)]
    assert "search_cases" in {tool["name"] for tool in _by_id(replies)[2]["result"]["tools"]}


def test_a_line_over_the_cap_gets_an_error_and_is_never_held_whole() -> None:
    proc = subprocess.Popen(SERVER, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=subprocess_env(), cwd=ROOT)
    assert proc.stdin and proc.stdout
    try:
        proc.stdin.write(_lines(INIT, INITIALIZED, LIST))
        proc.stdin.flush()
        assert _replies(proc.stdout.readline())[0]["id"] == 1
        assert _replies(proc.stdout.readline())[0]["id"] == 2
        before = _peak_memory(proc.pid)
        line_size = 2 * MAX_LINE
        block = b"x" * (1 << 20)
        for _ in range(line_size // len(block)):
            proc.stdin.write(block)
        proc.stdin.write(b"\n" + _lines({"jsonrpc": "2.0", "id": 3, "method": "ping"}))
        proc.stdin.flush()
        refused = _replies(proc.stdout.readline())[0]
        assert refused["id"] is None and refused["error"]["code"] == -32600
        assert f"longer than {MAX_LINE} bytes" in refused["error"]["message"]
        assert _replies(proc.stdout.readline())[0] == {"jsonrpc": "2.0", "id": 3, "result": {}}
        # At most the cap was ever held, not the whole line.
        assert _peak_memory(proc.pid) - before < MAX_LINE + 8 * 2**20 < line_size
    finally:
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0


def test_requests_from_a_regular_file_are_all_answered(tmp_path: Path) -> None:
    # ``casebridge < requests.jsonl > answers.jsonl``: no pipe on either side.
    requests, answers = tmp_path / "requests.jsonl", tmp_path / "answers.jsonl"
    oversized = b'{"jsonrpc": "2.0", "id": 9, "method": "ping", "pad": "' + b"a" * MAX_LINE + b'"}'
    requests.write_bytes(_lines(INIT, INITIALIZED, b"hello", oversized, LIST) + json.dumps(call(3, "x", {})).encode())
    with requests.open("rb") as stdin, answers.open("wb") as stdout:
        proc = subprocess.run(
            SERVER, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, timeout=90, env=subprocess_env(), cwd=ROOT
        )
    assert proc.returncode == 0, proc.stderr.decode()
    replies = _replies(answers.read_bytes())
    assert [r["error"]["code"] for r in replies if r.get("id") is None] == [-32700, -32600]
    by_id = _by_id(replies)
    assert by_id[1]["result"]["serverInfo"]["name"] == "casebridge"
    assert "search_cases" in {tool["name"] for tool in by_id[2]["result"]["tools"]}
    assert 3 in by_id and 9 not in by_id  # the last line had no newline and was still read


def _peak_memory(pid: int) -> int:
    """The process's peak resident memory in bytes (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/PID/status")
