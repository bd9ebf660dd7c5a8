"""A Starlette emulator of the Clearinghouse API v2.1 wire format on synthetic data.

It reproduces the documented quirks: 400 with a list of strings for "no results" and bad filters,
DRF token auth and ``{"detail": ...}`` bodies, cursor pagination with absolute ``next`` URLs.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from casebridge.sandbox.clearinghouse.data import (
    BUSY_CASE_ID,
    HOST,
    HOSTILE_CASE_ID,
    HOSTILE_CASE_IDS,
    Dataset,
    dataset,
)
from casebridge.sandbox.clearinghouse.store import BadFilter, ClearinghouseStore, Ordered, item_id
from casebridge.sandbox.emulation import Emulator

__all__ = ["BUSY_CASE_ID", "HOSTILE_CASE_ID", "HOSTILE_CASE_IDS", "SANDBOX_TOKEN", "build"]

SANDBOX_TOKEN = "sandbox-clearinghouse-token"
PREFIX = "/api/v2p1"
PAGING_PARAMS = frozenset({"cursor", "no_cache"})


def build(
    *, token: str = SANDBOX_TOKEN, page_size: int = 20, seed: int = 2026, data: Dataset | None = None
) -> Emulator:
    """A fresh emulator (its own faults and request log) over the shared data for ``seed`` (or ``data``)."""
    emulator = Emulator("clearinghouse")
    api = _ClearinghouseApi(ClearinghouseStore(dataset(seed) if data is None else data), token, page_size)
    emulator.wrap(api.app())
    emulator.endless_page = endless_page
    return emulator


def endless_page(path: str, query: list[tuple[str, str]]) -> dict[str, Any]:
    """The hostile ``endless_pages`` answer: an empty cursor page whose ``next`` never runs out."""
    cursor = dict(query).get("cursor", "")
    n = int(cursor.removeprefix("endless-")) if cursor.startswith("endless-") else 0
    return {"next": f"{path}?cursor=endless-{n + 1}&no_cache=1", "previous": None, "results": []}


def _json(payload: Any, request: Request, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    origin = f"{request.url.scheme}://{request.url.netloc}"
    body = json.dumps(payload).replace(HOST, origin)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


async def _not_found(request: Request, exc: Exception) -> Response:
    return _json({"detail": "Not found."}, request, 404)


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return _json({"detail": f'Method "{request.method}" not allowed.'}, request, 405)


def _encode_cursor(position: int, reverse: bool = False) -> str:
    raw = f"r=1&p={position}" if reverse else f"p={position}"
    return base64.urlsafe_b64encode(raw.encode("ascii")).decode("ascii")


def _decode_cursor(value: str) -> tuple[int, bool] | None:
    """(position, reverse) from a DRF-style cursor, or None when it is not one."""
    try:
        raw = base64.b64decode(value.encode("ascii"), altchars=b"-_", validate=True).decode("ascii")
        fields = parse_qs(raw, keep_blank_values=True, strict_parsing=True)
        if not set(fields) <= {"p", "r", "o"} or "p" not in fields:
            return None
        return int(fields["p"][0]), fields.get("r", ["0"])[0] == "1"
    except (ValueError, UnicodeError, binascii.Error):
        return None


class _ClearinghouseApi:
    """The HTTP handlers over one store, behind DRF token auth."""

    def __init__(self, store: ClearinghouseStore, token: str, page_size: int) -> None:
        self.store = store
        self.token = token
        self.page_size = page_size

    def app(self) -> ASGIApp:
        routes = [
            Route("/api/v1/test", self.test),
            Route(PREFIX + "/test", self.test),
            Route(PREFIX + "/cases", self.cases),
            Route(PREFIX + "/cases/", self.cases),
            Route(PREFIX + "/cases/{case_id:int}/", self.case_detail),
            Route(PREFIX + "/documents", self.documents),
            Route(PREFIX + "/documents/", self.documents),
            Route(PREFIX + "/documents/{doc_id:int}/text/", self.document_text),
            Route(PREFIX + "/documents/{doc_id:int}/text", self.document_text),
        ]
        for kind in ("documents", "dockets", "resources"):
            handler = functools.partial(self.sub_list, kind)
            routes.append(Route(f"{PREFIX}/cases/{{case_id:int}}/{kind}/", handler))
            routes.append(Route(f"{PREFIX}/cases/{{case_id:int}}/{kind}", handler))
        return Starlette(routes=routes, exception_handlers={404: _not_found, 405: _not_allowed})

    def _auth_error(self, request: Request) -> Response | None:
        header = request.headers.get("authorization")
        if not header:
            detail = "Authentication credentials were not provided."
        else:
            scheme, _, value = header.partition(" ")
            if scheme.lower() == "token" and value.strip() == self.token:
                return None
            detail = "Invalid token." if scheme.lower() == "token" else "Authentication credentials were not provided."
        return _json({"detail": detail}, request, 401, {"WWW-Authenticate": "Token"})

    async def test(self, request: Request) -> Response:
        if denied := self._auth_error(request):
            return denied
        return _json({"message": "Success, you have access to the Civil Rights Clearinghouse Litigation API!"}, request)

    async def cases(self, request: Request) -> Response:
        if denied := self._auth_error(request):
            return denied
        pairs = [(k, v) for k, v in request.query_params.multi_items() if k not in PAGING_PARAMS]
        try:
            found = self.store.search(pairs)
        except BadFilter as exc:
            return _json([exc.message], request, 400)
        if not found.items:
            return _json([f"No results for {dict(pairs)!r}"], request, 400)
        return self._paginate(request, found, lambda case: case.body, pairs)

    async def case_detail(self, request: Request) -> Response:
        if denied := self._auth_error(request):
            return denied
        case = self.store.case(request.path_params["case_id"])
        if case is None:
            raise HTTPException(404)
        return _json(case.body, request)

    async def sub_list(self, kind: str, request: Request) -> Response:
        """A case's ``kind``: documents, dockets or resources."""
        if denied := self._auth_error(request):
            return denied
        case = self.store.case(request.path_params["case_id"])
        if case is None:
            raise HTTPException(404)
        return self._paginate(request, Ordered(getattr(case, kind)), lambda item: item, [])

    async def documents(self, request: Request) -> Response:
        if denied := self._auth_error(request):
            return denied
        params = request.query_params
        if "case_id" not in params:
            return _json({"detail": "The 'case' query parameter is required."}, request, 400)
        try:
            case = self.store.case(int(params["case_id"]))
        except ValueError:
            return _json([f"API Error: {params['case_id']} is not an integer."], request, 400)
        if case is None:
            return _json([f"No results for {{'case_id': {params['case_id']!r}}}"], request, 400)
        docs = case.documents
        if title := params.get("title"):
            docs = [d for d in docs if title.lower() in str(d["title"]).lower()]
        pairs = [(k, v) for k, v in params.multi_items() if k not in PAGING_PARAMS]
        return self._paginate(request, Ordered(docs), lambda item: item, pairs)

    async def document_text(self, request: Request) -> Response:
        if denied := self._auth_error(request):
            return denied
        doc_id = request.path_params["doc_id"]
        text = self.store.data.document_text.get(doc_id)
        if text is None:
            raise HTTPException(404)
        return _json({"id": doc_id, "text": text}, request)

    def _paginate(
        self,
        request: Request,
        ordered: Ordered,
        render: Callable[[Any], Any],
        pairs: list[tuple[str, str]],
    ) -> Response:
        """DRF cursor pagination over ``ordered`` (descending id): ``next``/``previous``, no ``count``."""
        raw_cursor = request.query_params.get("cursor")
        size = self.page_size
        if raw_cursor is None:
            page = ordered.items[:size]
        else:
            decoded = _decode_cursor(raw_cursor)
            if decoded is None:
                return _json({"detail": "Invalid cursor"}, request, 404)
            position, reverse = decoded
            page = ordered.last_above(position, size) if reverse else ordered.first_below(position, size)

        def link(cursor: str) -> str:
            query = urlencode([*pairs, ("cursor", cursor), ("no_cache", "1")])
            return f"{request.url.scheme}://{request.url.netloc}{request.url.path}?{query}"

        next_url = previous_url = None
        if page:
            first, last = item_id(page[0]), item_id(page[-1])
            if ordered.lowest_id < last:
                next_url = link(_encode_cursor(last))
            if ordered.highest_id > first:
                previous_url = link(_encode_cursor(first, reverse=True))
        payload = {"next": next_url, "previous": previous_url, "results": [render(item) for item in page]}
        return _json(payload, request)
