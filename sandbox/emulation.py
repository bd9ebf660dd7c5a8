"""Shared machinery of the emulators: the request log and fault injection in front of each Starlette app
(``Emulator``; ``/_emulator/faults`` and ``/_emulator/requests`` for other processes), loopback serving."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from casebridge.sandbox.faults import EndlessPage, Fault, apply, respond

__all__ = ["Emulator", "Fault", "LoopbackServer", "QueryCache", "RecordedRequest", "free_port", "serve"]


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes

    def params(self, key: str) -> list[str]:
        return [v for k, v in self.query if k == key]

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Emulator:
    """State shared by one emulator app: faults to inject, requests seen, added latency."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.faults: list[Fault] = []
        self.requests: list[RecordedRequest] = []
        self.latency: float = 0.0  # added to every request
        self.record = True
        self.app: ASGIApp | None = None
        # The ``endless_pages`` fault's answer for a request (path, query): this provider's list shape
        # with no rows and a next link that is always there. Each emulator sets its own.
        self.endless_page: EndlessPage | None = None

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """Put ``app`` behind fault injection and recording; the result is also ``self.app``."""
        self.app = EmulatorMiddleware(app, self)
        return self.app

    def inject(self, fault: Fault | None = None, /, **kw: Any) -> Fault:
        f = fault or Fault(**kw)
        self.faults.append(f)
        return f

    def reset(self) -> None:
        self.faults.clear()
        self.requests.clear()
        self.latency = 0.0

    def take_fault(self, method: str, path: str) -> Fault | None:
        for f in self.faults:
            if f.times > 0 and f.matches(method, path):
                f.times -= 1
                if f.times <= 0:
                    self.faults.remove(f)
                return f
        return None


class EmulatorMiddleware:
    """ASGI middleware: records requests, injects faults, serves the ``/_emulator`` control routes."""

    def __init__(self, app: ASGIApp, emulator: Emulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        emu = self.emulator
        method: str = scope["method"]
        path: str = scope["path"]
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)

        if path.startswith("/_emulator/"):
            await self._control(path, method, body, send)
            return

        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        if emu.record:
            emu.requests.append(
                RecordedRequest(
                    method=method,
                    path=path,
                    query=query,
                    headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]},
                    body=body,
                )
            )

        sent_body = False

        async def replay() -> Message:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        if emu.latency:
            await anyio.sleep(emu.latency)
        fault = emu.take_fault(method, path)
        if fault is None:
            await self.app(scope, replay, send)
            return
        await apply(fault, self.app, scope, replay, send, query, emu.endless_page)

    async def _control(self, path: str, method: str, body: bytes, send: Send) -> None:
        emu = self.emulator
        if path == "/_emulator/faults" and method == "POST":
            spec = json.loads(body or b"{}")
            if spec.get("reset"):
                emu.reset()
            if "latency" in spec:
                emu.latency = float(spec["latency"])
            for f in spec.get("faults", []):
                emu.inject(Fault(**f))
            await respond(send, 200, b'{"ok": true}', {"content-type": "application/json"})
        elif path == "/_emulator/requests":
            data = [
                {"method": r.method, "path": r.path, "query": r.query, "body": r.body.decode("utf-8", "replace")}
                for r in emu.requests
            ]
            await respond(send, 200, json.dumps(data).encode(), {"content-type": "application/json"})
        else:
            await respond(send, 404, b"", {})


T = TypeVar("T")


class QueryCache(Generic[T]):
    """Answers of a read-only emulator's searches, kept per normalised query (least recently used dropped).

    The emulators' data never changes after ``build``; an emulator that gained a write path would
    have to ``clear`` this.
    """

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._answers: OrderedDict[Hashable, T] = OrderedDict()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        answer = self._answers.get(key)
        if answer is None:
            answer = self._answers[key] = compute()
            if len(self._answers) > self._size:
                self._answers.popitem(last=False)
        else:
            self._answers.move_to_end(key)
        return answer

    def clear(self) -> None:
        self._answers.clear()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


class LoopbackServer:
    """Serves an ASGI app with uvicorn on 127.0.0.1 in a background thread."""

    def __init__(self, app: ASGIApp, port: int = 0, host: str = "127.0.0.1") -> None:
        import uvicorn

        self.host = host
        self.port = port or free_port(host)
        config = uvicorn.Config(
            app, host=host, port=self.port, log_level="critical", lifespan="off", access_log=False, loop="asyncio"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=f"emulator:{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        asyncio.run(self._server.serve())

    def start(self) -> LoopbackServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"emulator on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=1)
        if self._thread.is_alive():
            # A hostile answer (slow drip, endless stream) may still hold a connection: don't wait it out.
            self._server.force_exit = True
            self._thread.join(timeout=5)


@contextlib.contextmanager
def serve(app: ASGIApp, port: int = 0) -> Iterator[LoopbackServer]:
    server = LoopbackServer(app, port=port).start()
    try:
        yield server
    finally:
        server.stop()
