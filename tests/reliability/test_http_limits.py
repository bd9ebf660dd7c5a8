"""The HTTP transports against clients that hold sockets or sessions: read timeouts and session caps.

Real server processes on loopback (sandbox data) with small limits. Other peers are other loopback
addresses (127.0.0.2, 127.0.0.3), which Linux routes to the same server.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import httpx2 as httpx
import pytest

from casebridge.sandbox.emulation import free_port
from tests.reliability.test_http_transport import INIT, JSON_HEADERS, MODERN, TOKEN, Served
from tests.support import PYTHON, ROOT, subprocess_env

LIMITS = {
    "CASEBRIDGE_HTTP_HEADER_TIMEOUT": "0.5",
    "CASEBRIDGE_HTTP_BODY_TIMEOUT": "0.5",
    "CASEBRIDGE_MAX_SESSIONS": "5",
    "CASEBRIDGE_MAX_SESSIONS_PER_PEER": "3",
    "CASEBRIDGE_MAX_SSE_SESSIONS": "5",
}
ONE_SECOND = str(1 / 60)  # CASEBRIDGE_SESSION_IDLE_MINUTES
PEER_A, PEER_B, PEER_C = "127.0.0.1", "127.0.0.2", "127.0.0.3"
Servers = dict[tuple[str, bool, bool], Served]


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    started: Servers = {}
    yield started
    for srv in started.values():
        srv.proc.send_signal(signal.SIGTERM)
        try:
            srv.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            srv.proc.kill()
            srv.proc.wait()


def served(servers: Servers, transport: str, *, token: bool = False, quick_expiry: bool = False) -> Served:
    """A server with ``LIMITS`` (and sessions idle for a second expiring), started on first use."""
    key = (transport, token, quick_expiry)
    if key not in servers:
        env = {**LIMITS, **({"CASEBRIDGE_HTTP_TOKEN": TOKEN} if token else {})}
        if quick_expiry:
            env["CASEBRIDGE_SESSION_IDLE_MINUTES"] = ONE_SECOND
        port = free_port()
        command = [PYTHON, "-m", "server", "--sandbox", "--transport", transport, "--port", str(port)]
        proc = subprocess.Popen(command, env=subprocess_env(env), cwd=ROOT, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.05)
        servers[key] = Served(proc, "127.0.0.1", port, transport)
    return servers[key]


def raw(srv: Served, data: bytes, peer: str = PEER_A) -> socket.socket:
    sock = socket.create_connection((srv.host, srv.port), timeout=10, source_address=(peer, 0))
    sock.sendall(data)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a socket timeout fails the test)."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    sock.close()
    return received


def auth(token: bool) -> dict[str, str]:
    return {"authorization": f"Bearer {TOKEN}"} if token else {}


def open_session(srv: Served, peer: str) -> httpx.Response:
    with httpx.Client(transport=httpx.HTTPTransport(local_address=peer), timeout=10) as client:
        return client.post(srv.endpoint, json=INIT, headers=JSON_HEADERS)


def open_sse(srv: Served, peer: str, token: bool = False) -> tuple[socket.socket, bytes]:
    """A raw ``GET /sse`` from ``peer``: the socket (still open) and the response head."""
    lines = [
        "GET /sse HTTP/1.1",
        f"Host: {srv.host}:{srv.port}",
        "Accept: text/event-stream",
        *([f"Authorization: Bearer {TOKEN}"] if token else []),
    ]
    sock = raw(srv, ("\r\n".join(lines) + "\r\n\r\n").encode(), peer)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, head
        head += chunk
    return sock, head


def refusal(response: httpx.Response, status: int) -> str:
    """The reason given for refusing a session with ``status``; a Retry-After must come with it."""
    assert response.status_code == status, response.text
    assert int(response.headers["retry-after"]) > 0
    return str(response.json()["error"]["message"])


@pytest.mark.parametrize("token", [False, True], ids=["open", "token"])
@pytest.mark.parametrize("transport", ["http", "sse"])
def test_slow_headers_are_cut_off_and_the_server_stays_usable(servers: Servers, transport: str, token: bool) -> None:
    srv = served(servers, transport, token=token)
    host = f"Host: {srv.host}:{srv.port}\r\n".encode()
    slow = [raw(srv, b"POST /mcp HTTP/1.1\r\n" + host) for _ in range(20)]
    slow += [raw(srv, b"") for _ in range(5)]  # connected, never a byte
    for sock in slow:
        assert read_until_closed(sock).startswith(b"HTTP/1.1 408 ")
    if transport == "http":
        response = httpx.post(srv.endpoint, json=INIT, headers={**JSON_HEADERS, **auth(token)}, timeout=10)
        assert response.status_code == 200 and "mcp-session-id" in response.headers
        session = {"mcp-session-id": response.headers["mcp-session-id"], **auth(token)}
        assert httpx.delete(srv.endpoint, headers=session, timeout=10).status_code < 300
    else:
        sock, head = open_sse(srv, PEER_A, token)
        sock.close()
        assert head.startswith(b"HTTP/1.1 200 ")


@pytest.mark.parametrize("token", [False, True], ids=["open", "token"])
def test_a_slow_body_is_answered_408_and_closed(servers: Servers, token: bool) -> None:
    srv = served(servers, "http", token=token)
    head = (
        f"POST /mcp HTTP/1.1\r\nHost: {srv.host}:{srv.port}\r\ncontent-type: application/json\r\n"
        "accept: application/json, text/event-stream\r\ncontent-length: 500\r\n"
    ) + (f"authorization: Bearer {TOKEN}\r\n" if token else "")
    answer = read_until_closed(raw(srv, (head + "\r\n").encode() + b'{"jsonrpc": "2.0", '))
    assert answer.startswith(b"HTTP/1.1 408 ") and b"body not received" in answer


def test_a_body_still_dribbling_in_after_the_answer_is_cut_off(servers: Servers) -> None:
    # Answered 401 at once, the client keeps sending its (unread) megabyte body a little at a time.
    srv = served(servers, "http", token=True)
    head = f"POST /mcp HTTP/1.1\r\nHost: {srv.host}:{srv.port}\r\ncontent-length: 1000000\r\n\r\n"
    sock = raw(srv, head.encode() + b"{")
    assert sock.recv(65536).startswith(b"HTTP/1.1 401 ")
    sock.settimeout(0.2)
    for _ in range(200):  # each round sends a little and waits a little; the server closes within a few
        try:
            sock.sendall(b"x" * 100)
            if sock.recv(1) == b"":
                break
        except TimeoutError:
            continue
        except OSError:  # reset by the server
            break
    else:
        raise AssertionError("the server kept reading a body nobody wanted")
    sock.close()


def test_streamable_http_sessions_are_capped_per_peer_and_in_all(servers: Servers) -> None:
    srv = served(servers, "http")
    opened = [open_session(srv, PEER_A) for _ in range(3)]
    assert all(r.status_code == 200 for r in opened)
    assert "too many open sessions from 127.0.0.1" in refusal(open_session(srv, PEER_A), 429)
    assert open_session(srv, PEER_B).status_code == 200  # another peer is unaffected
    assert open_session(srv, PEER_B).status_code == 200
    assert "limit of 5 open sessions" in refusal(open_session(srv, PEER_C), 503)
    # 2026-07-28 requests open no session, so they are served all the same.
    modern = {"mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list"}
    assert httpx.post(srv.endpoint, json=MODERN, headers={**JSON_HEADERS, **modern}, timeout=10).status_code == 200
    # Ending a session frees its place.
    ended = httpx.delete(srv.endpoint, headers={"mcp-session-id": opened[0].headers["mcp-session-id"]}, timeout=10)
    assert ended.status_code < 300
    assert open_session(srv, PEER_A).status_code == 200


def test_idle_sessions_expire_and_free_the_cap(servers: Servers) -> None:
    srv = served(servers, "http", quick_expiry=True)
    opened = [open_session(srv, PEER_A) for _ in range(3)]
    assert all(r.status_code == 200 for r in opened)
    deadline = time.monotonic() + 30
    while (fourth := open_session(srv, PEER_A)).status_code != 200:  # nothing is deleted: they expire
        refusal(fourth, 429)
        assert time.monotonic() < deadline, "idle sessions never expired"
        time.sleep(0.2)
    gone = {"mcp-session-id": opened[0].headers["mcp-session-id"], "mcp-protocol-version": "2025-11-25"}
    assert httpx.post(srv.endpoint, json=INIT, headers={**JSON_HEADERS, **gone}, timeout=10).status_code == 404


def test_sse_streams_are_capped_per_peer_and_in_all_and_free_up_when_closed(servers: Servers) -> None:
    srv = served(servers, "sse")
    held = [open_sse(srv, PEER_A) for _ in range(3)]
    refused, head = open_sse(srv, PEER_A)
    refused.close()
    assert head.startswith(b"HTTP/1.1 429 ") and b"retry-after: 30" in head.lower()
    held += [open_sse(srv, PEER_B) for _ in range(2)]
    assert all(head.startswith(b"HTTP/1.1 200 ") for _, head in held)
    refused, head = open_sse(srv, PEER_C)
    refused.close()
    assert head.startswith(b"HTTP/1.1 503 ")
    held.pop(0)[0].close()
    deadline = time.monotonic() + 30
    while True:  # the server notices the closed stream and lets another in
        sock, head = open_sse(srv, PEER_C)
        if head.startswith(b"HTTP/1.1 200 "):
            held.append((sock, head))
            break
        sock.close()
        assert time.monotonic() < deadline, "a closed SSE stream still counted"
        time.sleep(0.1)
    for sock, _ in held:
        sock.close()
