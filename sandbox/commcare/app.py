"""CommCare HQ emulator: v0.5 list/detail and the Case Data API v2 (reads and writes) over one data set,
with the fact sheet's error bodies, auth and throttling; ``query`` is not evaluated (400)."""

from __future__ import annotations

import hmac
import json
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from casebridge.sandbox.commcare.data import CaseRecord, Dataset, dataset
from casebridge.sandbox.commcare.query import BadRequest, V05Query, V2Page, encode_cursor, flag
from casebridge.sandbox.commcare.store import CommCareStore, v05_object, v2_object
from casebridge.sandbox.commcare.writes import CaseWriter, WriteRefused
from casebridge.sandbox.emulation import Emulator

SANDBOX_DOMAIN = "casebridge-sandbox"
SANDBOX_USERNAME = "sandbox@example.org"
SANDBOX_API_KEY = "sandbox-commcare-key"
API = "/a/{domain}/api"
# The methods the API answers at all; any other is refused before authentication.
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


def build(
    *,
    domain: str = SANDBOX_DOMAIN,
    username: str = SANDBOX_USERNAME,
    api_key: str = SANDBOX_API_KEY,
    throttle: bool = False,
    throttle_requests: int = 25,
    throttle_window: float = 15.0,
    seed: int = 2026,
    v2: bool = True,
    data: Dataset | None = None,
) -> Emulator:
    """A CommCare emulator for one project space and one API key; its ASGI app is ``.app``.

    ``v2=False``: a server with only the v0.5 API (every ``case/v2/`` path is a 404 with an empty body).
    """
    emulator = Emulator("commcare")
    store = CommCareStore(
        dataset(seed) if data is None else data,  # ``data``: the seed's cases with test data planted
        domain=domain,
        username=username,
    )
    api = _CommCareApi(store, api_key=api_key, throttle=(throttle_requests, throttle_window) if throttle else None)
    emulator.wrap(api.app(v2=v2))
    emulator.endless_page = endless_page
    return emulator


def endless_page(path: str, query: list[tuple[str, str]]) -> dict[str, Any]:
    """The hostile ``endless_pages`` answer: an empty v2 or v0.5 page whose ``next`` never runs out."""
    q = dict(query)
    if "/v0.5/" in path:
        limit = int(q["limit"]) if q.get("limit", "").isdigit() else 20
        offset = int(q["offset"]) if q.get("offset", "").isdigit() else 0
        meta = {"limit": limit, "offset": offset, "total_count": 10**6, "previous": None}
        return {"meta": {**meta, "next": f"?limit={limit}&offset={offset + limit}"}, "objects": []}
    cursor = q.get("cursor", "")
    n = int(cursor.removeprefix("endless-")) if cursor.startswith("endless-") else 0
    return {"matching_records": 10**6, "cases": [], "next": f"{path}?cursor=endless-{n + 1}"}


class _CommCareApi:
    """The HTTP handlers over one store, behind API-key auth, the project-space check and throttling."""

    def __init__(self, store: CommCareStore, *, api_key: str, throttle: tuple[int, float] | None) -> None:
        self.store = store
        self.api_key = api_key
        self.throttle = throttle
        self.hits: dict[str, deque[float]] = {}

    def app(self, *, v2: bool) -> ASGIApp:
        read, post, put = ["GET"], ["POST"], ["PUT"]
        routes: list[BaseRoute] = [
            Route(API + "/v0.5/case/", self.v05_list, methods=read),
            Route(API + "/v0.5/case/{case_id}/", self.v05_detail, methods=read),
        ]
        if v2:
            routes.append(Route(API + "/case/v2/bulk-fetch/", self.refuse, methods=post + put))
            for root in ("/case/v2", "/case/v2/"):
                routes += [
                    Route(API + root, self.v2_list, methods=read),
                    Route(API + root, self.create, methods=post),
                    Route(API + root, self.update, methods=put),
                ]
            for path in ("/case/v2/{ids}", "/case/v2/{ids}/"):  # one id, or several separated by commas
                routes += [
                    Route(API + path, self.v2_by_ids, methods=read),
                    Route(API + path, self.update_case, methods=put),
                    Route(API + path, self.refuse, methods=post),
                ]
            routes += [
                Route(API + "/case/v2/ext/{external_id:path}/", self.v2_external, methods=read),
                Route(API + "/case/v2/ext/{external_id:path}/", self.upsert_external, methods=put),
                Route(API + "/case/v2/ext/{external_id:path}/", self.refuse, methods=post),
            ]
        refused = {BadRequest: _bad_request, WriteRefused: _bad_request, 405: _not_allowed}
        api = Starlette(routes=routes, exception_handlers=refused)
        api.router.redirect_slashes = False
        api.router.default = _unknown
        outer = [Route(API + "/{rest:path}", _Guard(api, self.refusal), methods=METHODS)]
        return Starlette(routes=outer)

    def refusal(self, request: Request) -> Response | None:
        """The 401, 403 or 429 that comes before any route, or None."""
        if not self._authorised(request):
            return Response(b"", status_code=401, headers={"WWW-Authenticate": 'ApiKey realm="CommCare HQ"'})
        if request.path_params["domain"] != self.store.domain:
            return Response(b"", status_code=403)
        wait = self._throttled(self.store.username)
        if wait is not None:
            return Response(b"", status_code=429, headers={"Retry-After": str(max(1, math.ceil(wait)))})
        return None

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "apikey" or ":" not in credentials:
            return False
        user, _, key = credentials.strip().rpartition(":")
        return hmac.compare_digest(user.encode(), self.store.username.encode()) & hmac.compare_digest(
            key.encode(), self.api_key.encode()
        )

    def _throttled(self, user: str) -> float | None:
        if self.throttle is None:
            return None
        limit, window = self.throttle
        now = time.monotonic()
        hits = self.hits.setdefault(user, deque())
        while hits and now - hits[0] >= window:
            hits.popleft()
        if len(hits) >= limit:
            return window - (now - hits[0])
        hits.append(now)
        return None

    # -- v0.5 ------------------------------------------------------------------------------

    async def v05_list(self, request: Request) -> Response:
        items = list(request.query_params.multi_items())
        query = V05Query(items)
        store = self.store
        matched = store.matched(query.cache_key, lambda cases: query.select(cases, store.v05_obj)).cases
        limit, offset = query.limit, query.offset
        page = matched[offset : offset + limit]
        extra = [(k, v) for k, v in items if k not in ("limit", "offset")]
        base = f"/a/{store.domain}/api/v0.5/case/?"
        total = len(matched)
        objects = [self._v05_related(case, dict(store.v05_obj(case)), query.params) for case in page]
        next_url = (
            base + urlencode([("limit", limit), ("offset", offset + limit), *extra]) if offset + limit < total else None
        )
        previous = (
            base + urlencode([("limit", limit), ("offset", max(0, offset - limit)), *extra]) if offset > 0 else None
        )
        meta = {"limit": limit, "next": next_url, "offset": offset, "previous": previous, "total_count": total}
        return JSONResponse({"meta": meta, "objects": objects})

    async def v05_detail(self, request: Request) -> Response:
        case = self.store.data.by_id.get(request.path_params["case_id"])
        if case is None:
            return Response(b"", status_code=404)
        params = dict(request.query_params.multi_items())
        return JSONResponse(self._v05_related(case, v05_object(case, self.store.domain), params))

    def _v05_related(self, case: CaseRecord, obj: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        data, domain = self.store.data, self.store.domain
        if flag(params.get("child_cases__full")):
            obj["child_cases"] = {c.case_id: v05_object(c, domain) for c in data.children.get(case.case_id, [])}
        if flag(params.get("parent_cases__full")):
            parents = (data.by_id.get(i["case_id"]) for i in case.indices.values())
            obj["parent_cases"] = {p.case_id: v05_object(p, domain) for p in parents if p is not None}
        return obj

    # -- v2 reads --------------------------------------------------------------------------

    async def v2_list(self, request: Request) -> Response:
        v2 = V2Page(list(request.query_params.multi_items()))
        store, query = self.store, v2.query
        found = store.matched(v2.cache_key, lambda cases: [c for c in cases if query.matches(c)])
        matched = found.cases
        start = 0 if v2.after is None else found.position_after(v2.after)
        page = matched[start : start + v2.limit]
        body: dict[str, Any] = {
            "matching_records": len(matched),
            "cases": [query.shape(store.v2_obj(c)) for c in page],
        }
        if start + v2.limit < len(matched) and page:
            token = encode_cursor(v2.items, v2.limit, store.cursor_key(page[-1]))
            url = request.url
            body["next"] = f"{url.scheme}://{url.netloc}/a/{store.domain}/api/case/v2/?cursor={quote(token, safe='')}"
        return JSONResponse(body)

    async def v2_by_ids(self, request: Request) -> Response:
        raw: str = request.path_params["ids"]
        ids = [i for i in raw.split(",") if i]
        by_id = self.store.data.by_id
        if not ids:
            return Response(b"", status_code=404)
        if len(ids) == 1 and "," not in raw:
            case = by_id.get(ids[0])
            if case is None:
                return JSONResponse({"error": f"Case '{ids[0]}' not found"}, status_code=404)
            return JSONResponse(self._v2(case))
        cases: list[dict[str, Any]] = []
        missing = 0
        for case_id in ids:
            case = by_id.get(case_id)
            if case is None:
                missing += 1
                cases.append({"case_id": case_id, "error": "not found"})
            else:
                cases.append(self._v2(case))
        return JSONResponse({"matching_records": len(ids) - missing, "missing_records": missing, "cases": cases})

    async def v2_external(self, request: Request) -> Response:
        external_id: str = request.path_params["external_id"]
        found = self.store.data.by_external_id.get(external_id, [])
        if not found:
            return JSONResponse({"error": f"Case with external_id '{external_id}' not found"}, status_code=404)
        if len(found) > 1:
            ids = ", ".join(c.case_id for c in found)
            raise BadRequest(f"Multiple cases found with external_id '{external_id}': {ids}")
        return JSONResponse(self._v2(found[0]))

    def _v2(self, case: CaseRecord) -> dict[str, Any]:
        return v2_object(case, self.store.domain)

    # -- v2 writes (writes.py has the rules) -------------------------------------------------

    async def create(self, request: Request) -> Response:
        return await self._write(request, lambda writer, body: writer.post(body))

    async def update(self, request: Request) -> Response:
        return await self._write(request, lambda writer, body: writer.put(body))

    async def update_case(self, request: Request) -> Response:
        case_id = request.path_params["ids"]
        return await self._write(request, lambda writer, body: writer.put_case(case_id, body))

    async def upsert_external(self, request: Request) -> Response:
        external_id = request.path_params["external_id"]
        return await self._write(request, lambda writer, body: writer.put_external(external_id, body))

    async def refuse(self, request: Request) -> Response:
        """A write method CommCare does not take on this path: the body is still read first."""
        return await self._write(request, None)

    async def _write(self, request: Request, change: Callable[[CaseWriter, Any], dict[str, Any]] | None) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"error": "Payload is not valid JSON"}, status_code=400)
        if change is None:
            return _method_not_allowed()
        return JSONResponse(self.store.write(lambda writer: change(writer, body)))


class _Guard:
    """Runs ``refusal`` before the routes, so that unknown paths are refused the same way."""

    def __init__(self, app: ASGIApp, refusal: Callable[[Request], Response | None]) -> None:
        self.app = app
        self.refusal = refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refused = self.refusal(Request(scope))
        if refused is not None:
            await refused(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _method_not_allowed() -> Response:
    return JSONResponse({"error": "Request method not allowed"}, status_code=405)


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return _method_not_allowed()


async def _bad_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BadRequest | WriteRefused)
    return JSONResponse({"error": exc.message}, status_code=400)


async def _unknown(scope: Scope, receive: Receive, send: Send) -> None:
    """No route: an empty 404 for a read, and 405 for any other method."""
    response = Response(b"", status_code=404) if scope["method"] in ("GET", "HEAD") else _method_not_allowed()
    await response(scope, receive, send)
