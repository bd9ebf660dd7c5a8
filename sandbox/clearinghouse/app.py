"""A Starlette emulator of the Clearinghouse API v2.1 wire format on synthetic data.

It reproduces the documented quirks: 400 with a list of strings for "no results" and bad filters,
DRF token auth and ``{"detail": ...}`` bodies, cursor pagination with absolute ``next`` URLs.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from casebridge.providers.clearinghouse import vocab
from casebridge.sandbox.clearinghouse.data import (
    BUSY_CASE_ID,
    HOST,
    HOSTILE_CASE_ID,
    HOSTILE_CASE_IDS,
    CaseRecord,
    Dataset,
    dataset,
)
from casebridge.sandbox.emulation import Emulator, QueryCache

__all__ = ["BUSY_CASE_ID", "HOSTILE_CASE_ID", "HOSTILE_CASE_IDS", "SANDBOX_TOKEN", "build"]

SANDBOX_TOKEN = "sandbox-clearinghouse-token"
PREFIX = "/api/v2p1"
INTEGER_FILTERS = frozenset({*vocab.FILTERS, "state", "court", "special_collection", "case_id"})
PAGING_PARAMS = frozenset({"cursor", "no_cache"})


def build(
    *, token: str = SANDBOX_TOKEN, page_size: int = 20, seed: int = 2026, data: Dataset | None = None
) -> Emulator:
    """A fresh emulator (its own faults and request log) over the shared data for ``seed`` (or ``data``)."""
    emulator = Emulator("clearinghouse")
    api = _Api(dataset(seed) if data is None else data, token, page_size)
    routes = [
        Route("/api/v1/test", api.test),
        Route(PREFIX + "/test", api.test),
        Route(PREFIX + "/cases", api.cases),
        Route(PREFIX + "/cases/", api.cases),
        Route(PREFIX + "/cases/{case_id:int}/", api.case_detail),
        Route(PREFIX + "/documents", api.documents),
        Route(PREFIX + "/documents/", api.documents),
        Route(PREFIX + "/documents/{doc_id:int}/text/", api.document_text),
        Route(PREFIX + "/documents/{doc_id:int}/text", api.document_text),
    ]
    for kind in ("documents", "dockets", "resources"):
        handler = api.sub_list(kind)
        routes.append(Route(f"{PREFIX}/cases/{{case_id:int}}/{kind}/", handler))
        routes.append(Route(f"{PREFIX}/cases/{{case_id:int}}/{kind}", handler))
    app = Starlette(routes=routes, exception_handlers={404: _not_found, 405: _not_allowed})
    emulator.wrap(app)
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


class _Api:
    def __init__(self, data: Dataset, token: str, page_size: int) -> None:
        self.data = data
        self.token = token
        self.page_size = page_size
        # Read-only API: each distinct filter is matched and ordered once.
        self._matches: QueryCache[_Ordered] = QueryCache()

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
        wanted: dict[str, set[int]] = {}
        texts: list[list[str]] = []
        for key, value in pairs:
            if key == "text":
                texts.append(value.lower().split())
                continue
            if key not in INTEGER_FILTERS:
                return _json([f"API Error: Key: {key}, Value: {value} not found."], request, 400)
            try:
                number = int(value)
            except ValueError:
                return _json([f"API Error: {value} is not an integer."], request, 400)
            # The docs show defendant levels sent as defendant_type too; the id ranges are disjoint.
            if key == "defendant_type" and number in vocab.DEFENDANT_LEVEL:
                key = "defendant_level"
            wanted.setdefault(key, set()).add(number)

        def matches(case: CaseRecord) -> bool:
            if any(not (case.ids[k] & ids) for k, ids in wanted.items()):
                return False
            return not texts or any(all(t in case.haystack for t in terms) for terms in texts)

        # Filters AND across keys and OR within one, texts OR: order and repeats do not change the match.
        cache_key = (tuple(sorted((k, tuple(sorted(ids))) for k, ids in wanted.items())), frozenset(map(tuple, texts)))
        found = self._matches.get(cache_key, lambda: _Ordered([case for case in self.data.cases if matches(case)]))
        if not found.items:
            return _json([f"No results for {dict(pairs)!r}"], request, 400)
        return self._paginate(request, found, lambda case: case.body, pairs)

    async def case_detail(self, request: Request) -> Response:
        if denied := self._auth_error(request):
            return denied
        case = self.data.by_id.get(request.path_params["case_id"])
        if case is None:
            raise HTTPException(404)
        return _json(case.body, request)

    def sub_list(self, kind: str) -> Callable[[Request], Any]:
        async def handler(request: Request) -> Response:
            if denied := self._auth_error(request):
                return denied
            case = self.data.by_id.get(request.path_params["case_id"])
            if case is None:
                raise HTTPException(404)
            return self._paginate(request, _Ordered(getattr(case, kind)), lambda item: item, [])

        return handler

    async def documents(self, request: Request) -> Response:
        if denied := self._auth_error(request):
            return denied
        params = request.query_params
        if "case_id" not in params:
            return _json({"detail": "The 'case' query parameter is required."}, request, 400)
        try:
            case = self.data.by_id.get(int(params["case_id"]))
        except ValueError:
            return _json([f"API Error: {params['case_id']} is not an integer."], request, 400)
        if case is None:
            return _json([f"No results for {{'case_id': {params['case_id']!r}}}"], request, 400)
        docs = case.documents
        if title := params.get("title"):
            docs = [d for d in docs if title.lower() in str(d["title"]).lower()]
        pairs = [(k, v) for k, v in params.multi_items() if k not in PAGING_PARAMS]
        return self._paginate(request, _Ordered(docs), lambda item: item, pairs)

    async def document_text(self, request: Request) -> Response:
        if denied := self._auth_error(request):
            return denied
        doc_id = request.path_params["doc_id"]
        if doc_id not in self.data.document_text:
            raise HTTPException(404)
        return _json({"id": doc_id, "text": self.data.document_text[doc_id]}, request)

    def _paginate(
        self,
        request: Request,
        ordered: _Ordered,
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
            first, last = _item_id(page[0]), _item_id(page[-1])
            if ordered.lowest_id < last:
                next_url = link(_encode_cursor(last))
            if ordered.highest_id > first:
                previous_url = link(_encode_cursor(first, reverse=True))
        payload = {"next": next_url, "previous": previous_url, "results": [render(item) for item in page]}
        return _json(payload, request)


class _Ordered:
    """Items in the API's order (descending id), with their negated ids (ascending) for bisection."""

    def __init__(self, items: Sequence[Any]) -> None:
        self.items = sorted(items, key=_item_id, reverse=True)
        self._keys = [-_item_id(item) for item in self.items]

    @property
    def highest_id(self) -> int:
        return -self._keys[0]

    @property
    def lowest_id(self) -> int:
        return -self._keys[-1]

    def first_below(self, position: int, size: int) -> list[Any]:
        """The first ``size`` items whose id is below ``position``."""
        start = bisect.bisect_right(self._keys, -position)
        return self.items[start : start + size]

    def last_above(self, position: int, size: int) -> list[Any]:
        """The last ``size`` items whose id is above ``position``."""
        end = bisect.bisect_left(self._keys, -position)
        return self.items[max(0, end - size) : end]


def _item_id(item: Any) -> int:
    return int(item.id if isinstance(item, CaseRecord) else item["id"])
