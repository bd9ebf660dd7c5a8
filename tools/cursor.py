"""Opaque, stateless page cursors: everything needed for the next page travels inside.

A cursor is URL-safe base64 of a checksum plus raw-deflated JSON ``{v, p, f, s, n}``: version,
provider, the search's filters, the provider adapter's page state and the page size to keep. The checksum catches
truncated or edited cursors; it is not a security boundary, because everything decoded is
validated again (filters through the same pydantic model as a fresh call, state by the adapter),
so a forged cursor can only ask for what a valid call could ask for.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import zlib
from dataclasses import dataclass
from typing import Any

from casebridge.tools.sources.base import MAX_PAGE_SIZE

VERSION = 2
MAX_CURSOR_LENGTH = 4096
_MAX_PAYLOAD = 16384
_KEY = b"casebridge-cursor-v1"
# Bytes of checksum: enough to catch a cursor cut short or mistyped (1 in 4 billion passes), which
# is all it is for; nothing relies on it for security.
_CHECK = 4


@dataclass(frozen=True)
class CursorData:
    provider: str
    filters: dict[str, Any]
    state: dict[str, Any]
    page_size: int | None = None  # the limit the search was paged with; None in older cursors


class CursorError(ValueError):
    pass


def encode(provider: str, filters: dict[str, Any], state: dict[str, Any], page_size: int | None = None) -> str:
    data: dict[str, Any] = {"v": VERSION, "p": provider, "f": filters, "s": state}
    if page_size is not None:
        data["n"] = page_size
    payload = json.dumps(data, separators=(",", ":"), sort_keys=True)
    # Raw deflate: no zlib header or Adler-32 (the checksum below covers it), 8 characters shorter.
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = deflater.compress(payload.encode()) + deflater.flush()
    digest = hashlib.blake2b(raw, digest_size=_CHECK, key=_KEY).digest()
    return base64.urlsafe_b64encode(digest + raw).rstrip(b"=").decode()


def decode(cursor: str) -> CursorData:
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise CursorError("the cursor is longer than any cursor casebridge issues")
    try:
        blob = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError) as exc:
        raise CursorError("the cursor is not valid base64") from exc
    digest, raw = blob[:_CHECK], blob[_CHECK:]
    if len(digest) < _CHECK or hashlib.blake2b(raw, digest_size=_CHECK, key=_KEY).digest() != digest:
        raise CursorError("the cursor was altered or cut short")
    try:
        inflater = zlib.decompressobj(-15)
        payload = inflater.decompress(raw, _MAX_PAYLOAD)
        data = json.loads(payload)
    except (zlib.error, ValueError) as exc:
        raise CursorError("the cursor's content is unreadable") from exc
    if (
        not isinstance(data, dict)
        or data.get("v") != VERSION
        or not isinstance(data.get("p"), str)
        or not isinstance(data.get("f"), dict)
        or not isinstance(data.get("s"), dict)
    ):
        raise CursorError("the cursor is not one casebridge issued")
    size = data.get("n")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_PAGE_SIZE):
        raise CursorError("the cursor's page size is not one casebridge issues")
    return CursorData(provider=data["p"], filters=data["f"], state=data["s"], page_size=size)
