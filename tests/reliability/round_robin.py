"""Test tooling for several workers: casebridge HTTP processes on one database, and a round-robin front.

The front is a tiny HTTP proxy (ASGI, on loopback): each request goes to the next worker in turn, with
no session affinity, and the proxy records which worker got which request.
"""

from __future__ import annotations

import itertools
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx

from casebridge.sandbox.emulation import LoopbackServer, free_port
from tests.support import PYTHON, ROOT, subprocess_env

HOP_HEADERS = {"host", "connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"}


class Worker:
    """``python -m server --transport http`` on a free loopback port."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "server", "--transport", "http", "--port", str(self.port)],
            env=subprocess_env(env),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60) -> Worker:
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                    raise RuntimeError(f"worker on port {self.port} did not start: {err}") from None
                time.sleep(0.05)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


@dataclass(frozen=True)
class Forwarded:
    worker: int
    method: str
    path: str
    body: bytes


class RoundRobin:
    """An ASGI proxy sending each request to the next of ``upstreams``; responses are streamed back."""

    def __init__(self, upstreams: list[str]) -> None:
        self.upstreams = upstreams
        self._turn = itertools.cycle(range(len(upstreams)))
        self.log: list[Forwarded] = []
        self._client: httpx.AsyncClient | None = None  # made in the proxy's own event loop

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        worker = next(self._turn)
        self.log.append(Forwarded(worker, scope["method"], scope["path"], body))
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(60.0))
        headers = [(k.decode(), v.decode()) for k, v in scope["headers"] if k.decode().lower() not in HOP_HEADERS]
        query = scope.get("query_string", b"").decode()
        url = self.upstreams[worker] + scope["path"] + (f"?{query}" if query else "")
        request = self._client.build_request(scope["method"], url, headers=headers, content=body)
        response = await self._client.send(request, stream=True)
        try:
            out = [(k.encode(), v.encode()) for k, v in response.headers.multi_items() if k.lower() not in HOP_HEADERS]
            await send({"type": "http.response.start", "status": response.status_code, "headers": out})
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await response.aclose()

    def workers_of(self, needle: bytes) -> list[int]:
        """Which worker got each request whose body contains ``needle``, in order."""
        return [f.worker for f in self.log if needle in f.body]


def serve_front(upstreams: list[str]) -> tuple[RoundRobin, LoopbackServer]:
    proxy = RoundRobin(upstreams)
    return proxy, LoopbackServer(proxy).start()  # type: ignore[arg-type]
