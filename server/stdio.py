"""The stdio transport: newline-delimited JSON-RPC on stdin/stdout, answering what it was sent before it exits."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import logging
import os
import stat
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import anyio
from mcp.shared._context_streams import ContextSendStream, create_context_streams
from mcp.shared.message import SessionMessage
from mcp.types import (
    CONNECTION_CLOSED,
    JSONRPCError,
    JSONRPCNotification,
    JSONRPCRequest,
    JSONRPCResponse,
    RequestId,
)

from casebridge.server.stdio_framing import (
    LineSplitter,
    LineTooLong,
    UnreadableLine,
    error_reply,
    parse_line,
    too_long_reply,
)

log = logging.getLogger("casebridge.stdio")

# The longest line read whole (a request this size is already absurd); a longer one is answered with an
# error and the rest of it is read and dropped, never held.
MAX_LINE = 32 * 1024 * 1024
CHUNK = 256 * 1024
# How long the last answers may take to leave once the session is over (a client that stopped reading).
FLUSH_SECONDS = 5.0
TERMINAL_HINT = (
    b"casebridge: that line is not JSON-RPC. This is an MCP server: an MCP client (Claude Desktop, the MCP "
    b"Inspector) talks to it, one JSON-RPC message per line. Ctrl-D or Ctrl-C stops it.\n"
)

ReadChunk = Callable[[], Awaitable[bytes]]
Write = Callable[[bytes], Awaitable[None]]


def _is_pipe(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


@contextlib.asynccontextmanager
async def stdio_streams(grace: float = 0.0) -> AsyncIterator[tuple[Any, Any]]:
    """The read and write streams of an MCP session on this process's stdin and stdout.

    At the end of input, requests already received are given up to ``grace`` seconds to be answered;
    then the session ends and the server cancels what is left (each gets a "Connection closed" error).
    A line that is not JSON-RPC gets a JSON-RPC error with ``id: null`` and the session goes on.

    As the SDK's transport does, fd 0 and 1 are moved to private duplicates while serving and pointed
    at /dev/null and stderr, so output from any library cannot corrupt the wire. Pipes use the event
    loop's pipe support (no thread hop per line); a terminal or a regular file (``casebridge <
    requests.jsonl``) is read and written in worker threads, since neither can be polled safely.
    """
    with _claimed_std_fds() as (wire_in, wire_out):
        async with _wire(wire_in, wire_out) as (read_chunk, write):
            session = _Session(read_chunk, write, max_line=MAX_LINE, grace=grace, terminal=os.isatty(wire_in))
            async with session.streams() as streams:
                yield streams


@contextlib.contextmanager
def _claimed_std_fds() -> Iterator[tuple[int, int]]:
    wire_in = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
    wire_out = fcntl.fcntl(1, fcntl.F_DUPFD_CLOEXEC, 3)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    try:
        yield wire_in, wire_out
    finally:
        with contextlib.suppress(OSError):
            os.dup2(wire_in, 0)
            os.dup2(wire_out, 1)
        # The duplicates stay open (close-on-exec): a worker thread may still be blocked reading a
        # terminal through wire_in, and a closed descriptor could be reused under it.


@contextlib.asynccontextmanager
async def _wire(wire_in: int, wire_out: int) -> AsyncIterator[tuple[ReadChunk, Write]]:
    """``read_chunk`` (b"" at the end of input) and ``write`` (the bytes have left when it returns)."""
    loop = asyncio.get_running_loop()
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    read_transport: asyncio.BaseTransport | None = None
    try:
        if _is_pipe(wire_in):
            reader = asyncio.StreamReader(limit=CHUNK)
            read_transport, _ = await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(os.dup(wire_in), "rb", buffering=0)
            )
        if _is_pipe(wire_out):
            transport, protocol = await loop.connect_write_pipe(
                asyncio.streams.FlowControlMixin, os.fdopen(os.dup(wire_out), "wb", buffering=0)
            )
            transport.set_write_buffer_limits(high=0)  # drain() returns once the bytes are in the pipe
            writer = asyncio.StreamWriter(transport, protocol, None, loop)

        async def read_chunk() -> bytes:
            if reader is not None:
                return await reader.read(CHUNK)
            return await anyio.to_thread.run_sync(os.read, wire_in, CHUNK, abandon_on_cancel=True)

        async def write(data: bytes) -> None:
            if writer is not None:
                writer.write(data)
                await writer.drain()
            else:
                await anyio.to_thread.run_sync(_write_all, wire_out, data)

        yield read_chunk, write
    finally:
        if read_transport is not None:
            read_transport.close()
        if writer is not None:
            writer.close()  # every write was drained into the pipe, so nothing is lost here


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class _Session:
    """Moves messages between the wire and the server's streams, and keeps count of what is owed.

    ``owed`` holds the ids of requests received and not yet answered or cancelled; ``asked`` the ids
    of requests the server sent the client. Once input ends nobody can answer the server's requests,
    so each is answered here with "Connection closed" and the tool that asked can finish.
    """

    def __init__(
        self, read_chunk: ReadChunk, write: Write, *, max_line: int, grace: float, terminal: bool = False
    ) -> None:
        self._read_chunk = read_chunk
        self._terminal = terminal  # a person types the input: a bad line is explained to them on stderr
        self._write = write
        self._max_line = max_line
        self._grace = grace
        self._owed: collections.Counter[RequestId] = collections.Counter()
        self._asked: set[RequestId] = set()
        self._settled = anyio.Event()
        self._settled.set()
        self._ended = False  # input is over
        self._broken = False  # stdout is gone: nothing more can be answered
        self._to_server: ContextSendStream[SessionMessage | Exception] | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._write_lock = anyio.Lock()  # answers and error replies come from two tasks

    @contextlib.asynccontextmanager
    async def streams(self) -> AsyncIterator[tuple[Any, Any]]:
        to_server, read_stream = create_context_streams[SessionMessage | Exception](0)
        write_stream, from_server = create_context_streams[SessionMessage](0)
        self._to_server = to_server
        written = anyio.Event()
        async with anyio.create_task_group() as tg:
            self._tg = tg
            tg.start_soon(self._read_loop, to_server)

            async def write_loop() -> None:
                try:
                    await self._write_loop(from_server)
                finally:
                    written.set()

            tg.start_soon(write_loop)
            try:
                yield read_stream, write_stream
                # The server has closed its write stream: let the last answers leave, within a bound.
                with anyio.move_on_after(FLUSH_SECONDS):
                    await written.wait()
            finally:
                tg.cancel_scope.cancel()

    async def _read_loop(self, to_server: ContextSendStream[SessionMessage | Exception]) -> None:
        splitter = LineSplitter(self._max_line)
        try:
            async with to_server:
                while chunk := await self._read_chunk():
                    for line in splitter.feed(chunk):
                        await self._receive(line, to_server)
                last = splitter.finish()
                if last is not None:
                    await self._receive(last, to_server)
                await self._wait_for_answers()
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            log.debug("the server stopped reading before the end of input")

    async def _receive(
        self, line: bytes | LineTooLong, to_server: ContextSendStream[SessionMessage | Exception]
    ) -> None:
        if isinstance(line, LineTooLong):
            log.warning("discarded a stdin line longer than %d bytes", line.limit)
            await self._reply(too_long_reply(line.limit))
            return
        try:
            message = parse_line(line)
        except UnreadableLine as exc:
            log.warning("answered a stdin line that is not JSON-RPC (%d bytes): %s", len(line), exc)
            if self._terminal:
                os.write(2, TERMINAL_HINT)
            await self._reply(exc.reply)
            return
        if message is None:
            return
        self._note_inbound(message)
        await to_server.send(SessionMessage(message))

    async def _wait_for_answers(self) -> None:
        self._ended = True
        for request_id in list(self._asked):
            self._answer_soon(request_id)
        owed = sum(self._owed.values())
        if not owed or self._broken:
            return
        log.info("end of input: waiting up to %g s for %d request(s) in flight", self._grace, owed)
        with anyio.move_on_after(self._grace):
            await self._settled.wait()
        if left := sum(self._owed.values()):
            log.warning("end of input: %d request(s) still running after %g s are cancelled", left, self._grace)

    async def _write_loop(self, from_server: Any) -> None:
        async with from_server:
            async for session_message in from_server:
                message = session_message.message
                self._note_outbound(message)
                await self._send(message.model_dump_json(by_alias=True, exclude_unset=True))

    async def _reply(self, error: JSONRPCError) -> None:
        await self._send(error.model_dump_json(by_alias=True, exclude_unset=True))

    async def _send(self, text: str) -> None:
        if self._broken:
            return
        try:
            async with self._write_lock:
                await self._write(text.encode() + b"\n")
        except OSError as exc:  # the client closed our stdout: keep draining, answer nothing more
            log.warning("stdout is closed (%s): answers are dropped from now on", exc)
            self._broken = True
            self._settled.set()

    def _note_inbound(self, message: Any) -> None:
        if isinstance(message, JSONRPCRequest):
            if not self._owed:
                self._settled = anyio.Event()
            self._owed[message.id] += 1
        elif isinstance(message, (JSONRPCResponse, JSONRPCError)):
            self._asked.discard(message.id)
        elif isinstance(message, JSONRPCNotification) and message.method == "notifications/cancelled":
            # The server never answers a request its client cancelled.
            self._settle((message.params or {}).get("requestId"))

    def _note_outbound(self, message: Any) -> None:
        if isinstance(message, (JSONRPCResponse, JSONRPCError)):
            self._settle(message.id)
        elif isinstance(message, JSONRPCRequest):
            self._asked.add(message.id)
            if self._ended:
                self._answer_soon(message.id)

    def _settle(self, request_id: Any) -> None:
        if not isinstance(request_id, (str, int)) or self._owed.get(request_id, 0) <= 0:
            return
        self._owed[request_id] -= 1
        if not self._owed[request_id]:
            del self._owed[request_id]
        if not self._owed:
            self._settled.set()

    def _answer_soon(self, request_id: RequestId) -> None:
        # In a task of its own: the server may be busy and the write loop must not wait on it.
        if self._tg is not None:
            self._tg.start_soon(self._answer_for_client, request_id)

    async def _answer_for_client(self, request_id: RequestId) -> None:
        """Answers a request the server sent, on behalf of a client whose input has ended."""
        if request_id not in self._asked or self._to_server is None:
            return
        self._asked.discard(request_id)
        reply = error_reply(CONNECTION_CLOSED, "Connection closed: the client's input has ended", request_id)
        with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
            await self._to_server.send(SessionMessage(reply))
