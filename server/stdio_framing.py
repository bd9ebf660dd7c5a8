"""Newline framing for stdio: lines cut from chunks under a size cap, and JSON-RPC errors for bad lines."""

from __future__ import annotations

import json
from typing import Any

from mcp.types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError, JSONRPCMessage, jsonrpc_message_adapter
from pydantic import ValidationError


class LineTooLong:
    """Stands in for a line over the cap: its bytes were dropped, not kept."""

    def __init__(self, limit: int) -> None:
        self.limit = limit


class LineSplitter:
    """Cuts a byte stream into lines of at most ``max_line`` bytes (newline excluded).

    A longer line yields one ``LineTooLong`` as soon as it passes the cap; the rest of it, up to
    its newline, is read and thrown away, so memory stays under about ``max_line`` whatever comes in.
    """

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self._partial = bytearray()
        self._discarding = False

    def feed(self, chunk: bytes) -> list[bytes | LineTooLong]:
        out: list[bytes | LineTooLong] = []
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                self._keep(memoryview(chunk)[start:], out)
                return out
            piece = memoryview(chunk)[start:end]
            start = end + 1
            if self._discarding:
                self._discarding = False
            elif len(self._partial) + len(piece) > self.max_line:
                self._partial.clear()
                out.append(LineTooLong(self.max_line))
            elif self._partial:
                self._partial += piece
                out.append(bytes(self._partial))
                self._partial.clear()
            else:
                out.append(bytes(piece))

    def finish(self) -> bytes | None:
        """The last line when the input ended without a newline."""
        rest, self._partial = bytes(self._partial), bytearray()
        return rest if rest and not self._discarding else None

    def _keep(self, rest: memoryview, out: list[bytes | LineTooLong]) -> None:
        if self._discarding or not rest:
            return
        if len(self._partial) + len(rest) > self.max_line:
            self._partial.clear()
            self._discarding = True
            out.append(LineTooLong(self.max_line))
        else:
            self._partial += rest


class UnreadableLine(Exception):
    """A line that is not a JSON-RPC message; ``reply`` is the error to send back."""

    def __init__(self, reply: JSONRPCError) -> None:
        super().__init__(reply.error.message)
        self.reply = reply


def parse_line(line: bytes) -> JSONRPCMessage | None:
    """The message on ``line``, or None for a blank line; raises ``UnreadableLine`` for anything else."""
    text = line.decode("utf-8", errors="replace")  # as the SDK's transport decodes stdin
    try:
        return jsonrpc_message_adapter.validate_json(text, by_name=False)
    except ValidationError:
        if not text.strip():
            return None
    try:
        value = json.loads(text)
    except ValueError:
        raise UnreadableLine(error_reply(PARSE_ERROR, "Parse error: the line is not valid JSON")) from None
    raise UnreadableLine(
        error_reply(
            INVALID_REQUEST, "Invalid Request: the line is JSON but not a JSON-RPC 2.0 message", _request_id(value)
        )
    )


def too_long_reply(limit: int) -> JSONRPCError:
    return error_reply(
        INVALID_REQUEST, f"Invalid Request: a line longer than {limit} bytes was discarded; send smaller messages"
    )


def error_reply(code: int, message: str, request_id: str | int | None = None) -> JSONRPCError:
    return JSONRPCError(jsonrpc="2.0", id=request_id, error=ErrorData(code=code, message=message))


def _request_id(value: Any) -> str | int | None:
    """The id of a malformed request, when it has a usable one (JSON-RPC 2.0 says null otherwise)."""
    if not isinstance(value, dict) or "method" not in value:
        return None
    request_id = value.get("id")
    if isinstance(request_id, str) or (isinstance(request_id, int) and not isinstance(request_id, bool)):
        return request_id
    return None
