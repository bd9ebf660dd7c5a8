"""The stdio transport on asyncio pipes: the SDK's framing and parsing, without a thread hop per line."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import stat
from collections.abc import AsyncIterator
from typing import Any

from mcp.server.stdio import stdio_server

log = logging.getLogger("casebridge.stdio")

# The largest line read whole (a request this size is already absurd); a longer one is answered as
# unparseable instead of taking the process down.
MAX_LINE = 32 * 1024 * 1024


def _is_pipe(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


class _Lines:
    """``async for line in ...`` over a stream reader, as the SDK reads its stdin file."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader

    def __aiter__(self) -> _Lines:
        return self

    async def __anext__(self) -> str:
        try:
            line = await self._reader.readline()
        except ValueError:
            log.warning("dropped a stdin line longer than %d bytes", MAX_LINE)
            return "<line too long>\n"  # not JSON: the SDK reports it and reads on
        if not line:
            raise StopAsyncIteration
        return line.decode("utf-8", errors="replace")


class _Writer:
    """``write`` and ``flush`` as the SDK calls them on its stdout file; ``flush`` waits for the pipe."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    async def write(self, text: str) -> None:
        self._writer.write(text.encode())

    async def flush(self) -> None:
        await self._writer.drain()


@contextlib.asynccontextmanager
async def stdio_streams() -> AsyncIterator[tuple[Any, Any]]:
    """The read and write streams of an MCP session on this process's stdin and stdout.

    The SDK's own transport reads every line in a worker thread and writes through two more hops, about
    0.4 ms a call here; this one uses the event loop's pipe support. As the SDK does, fd 0 and 1 are moved
    to private duplicates while serving and pointed at /dev/null and stderr, so output from any library
    cannot corrupt the wire. A terminal or a regular file is left to the SDK's transport: switching a
    terminal to non-blocking mode would upset the shell it belongs to, and files cannot be polled.
    """
    if not (_is_pipe(0) and _is_pipe(1)):
        async with stdio_server() as streams:
            yield streams
        return

    loop = asyncio.get_running_loop()
    wire_in = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
    wire_out = fcntl.fcntl(1, fcntl.F_DUPFD_CLOEXEC, 3)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    reader = asyncio.StreamReader(limit=MAX_LINE)
    read_transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(wire_in, "rb", buffering=0)
    )
    write_transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(wire_out, "wb", buffering=0)
    )
    writer = asyncio.StreamWriter(write_transport, protocol, None, loop)
    try:
        async with stdio_server(_Lines(reader), _Writer(writer)) as streams:  # type: ignore[arg-type]
            yield streams
    finally:
        with contextlib.suppress(OSError):
            os.dup2(wire_in, 0)
            os.dup2(wire_out, 1)
        read_transport.close()
        write_transport.close()
