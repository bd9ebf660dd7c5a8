"""CommCare HQ emulator: v0.5 list/detail and the Case Data API v2 (reads, and writes in writes.py)
over one data set, with the fact sheet's error bodies, auth and throttling; ``query`` is not evaluated (400)."""

from __future__ import annotations

import base64
import binascii
import bisect
import hmac
import json
import math
import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from casebridge.sandbox.commcare.data import CaseRecord, Dataset, dataset
from casebridge.sandbox.commcare.writes import CaseWriter, WriteRefused, copy_dataset
from casebridge.sandbox.emulation import Emulator, QueryCache

SANDBOX_DOMAIN = "casebridge-sandbox"
SANDBOX_USERNAME = "sandbox@example.org"
SANDBOX_API_KEY = "sandbox-commcare-key"
MAX_LIMIT = 5000
DEFAULT_LIMIT = 20

Predicate = Callable[[CaseRecord], bool]


class _BadRequest(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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
    handler = _CommCare(
        dataset(seed) if data is None else data,  # ``data``: the seed's cases with test data planted
        domain=domain,
        username=username,
        api_key=api_key,
        throttle=(throttle_requests, throttle_window) if throttle else None,
        v2=v2,
    )
    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    app = Starlette(routes=[Route("/a/{domain}/api/{rest:path}", handler.dispatch, methods=methods)])
    emulator.wrap(app)
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


# ---------------------------------------------------------------------------------------------
# Wire rendering


def _ts(value: datetime | None, *, micro: bool = True) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


def _v05(case: CaseRecord, domain: str) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "case_name": case.case_name,
        "case_type": case.case_type,
        "date_opened": _ts(case.date_opened, micro=False),
        "owner_id": case.owner_id,
    }
    if case.external_id:
        properties["external_id"] = case.external_id
    properties.update(case.properties)
    return {
        "id": case.case_id,
        "case_id": case.case_id,
        "domain": domain,
        "user_id": case.user_id,
        "closed": case.closed,
        "date_closed": _ts(case.date_closed),
        "date_modified": _ts(case.date_modified),
        "server_date_modified": _ts(case.server_date_modified),
        "server_date_opened": _ts(case.date_opened),
        "indexed_on": _ts(case.indexed_on),
        "opened_by": case.opened_by,
        "closed_by": case.closed_by,
        "xform_ids": list(case.xform_ids),
        "properties": properties,
        "indices": {name: dict(index) for name, index in case.indices.items()},
        "resource_uri": "",
    }


def _v2(case: CaseRecord, domain: str) -> dict[str, Any]:
    return {
        "domain": domain,
        "case_id": case.case_id,
        "case_type": case.case_type,
        "case_name": case.case_name,
        "external_id": case.external_id,
        "owner_id": case.owner_id,
        "date_opened": _ts(case.date_opened),
        "last_modified": _ts(case.date_modified),
        "server_last_modified": _ts(case.server_date_modified),
        "indexed_on": _ts(case.indexed_on),
        "closed": case.closed,
        "date_closed": _ts(case.date_closed),
        "properties": dict(case.properties),
        "indices": {name: dict(index) for name, index in case.indices.items()},
    }


# ---------------------------------------------------------------------------------------------
# Parsing helpers

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_V05_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?Z?)?$")
_TRUE = frozenset({"true", "t", "yes", "y", "on", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "off", "0"})


def _bound(value: datetime, date_only: bool, op: str) -> datetime:
    # Like Elasticsearch ranges: a bare date used as "gt"/"lte" stands for the end of that day.
    if date_only and op in ("gt", "lte"):
        return value + timedelta(days=1) - timedelta(microseconds=1)
    return value


def _parse_v2_datetime(raw: str, op: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise _BadRequest(f"Cannot parse datetime '{raw}'") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return _bound(value, bool(_DATE_ONLY.match(raw.strip())), op)


def _parse_v05_datetime(name: str, raw: str, op: str) -> datetime:
    if not _V05_DATE.match(raw):
        raise _BadRequest(
            f"Invalid value '{raw}' for '{name}': use a date or date and time without a UTC offset, "
            "e.g. 2021-01-01 or 2021-01-01T06:05:42"
        )
    try:
        value = datetime.fromisoformat(raw.rstrip("Z")).replace(tzinfo=UTC)
    except ValueError:
        raise _BadRequest(f"Invalid value '{raw}' for '{name}'") from None
    return _bound(value, "T" not in raw, op)


def _parse_bool(raw: str) -> bool:
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _BadRequest(f"'{raw}' is not a valid boolean value")


def _compare(op: str, value: datetime | None, bound: datetime) -> bool:
    if value is None:
        return False
    if op == "gt":
        return value > bound
    if op == "gte":
        return value >= bound
    if op == "lt":
        return value < bound
    return value <= bound


def _int_param(name: str, raw: str | None, default: int, *, minimum: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise _BadRequest(f"Invalid {name} '{raw}' provided. Please provide a positive integer.")
    return value


# ---------------------------------------------------------------------------------------------
# Filters

_V2_DATE_FIELDS: dict[str, Callable[[CaseRecord], datetime | None]] = {
    "last_modified": lambda c: c.date_modified,
    "server_last_modified": lambda c: c.server_date_modified,
    "indexed_on": lambda c: c.indexed_on,
    "date_opened": lambda c: c.date_opened,
    "date_closed": lambda c: c.date_closed,
}
_V2_EXACT: dict[str, Callable[[CaseRecord], str | None]] = {
    "case_type": lambda c: c.case_type,
    "case_name": lambda c: c.case_name,
    "external_id": lambda c: c.external_id,
    "owner_id": lambda c: c.owner_id,
}


def _group(items: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for key, value in items:
        grouped.setdefault(key, []).append(value)
    return grouped


class _V2Query:
    """A parsed v2 list query: predicates (same key OR, different keys AND) and output options."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self.items = items
        self.predicates: list[Predicate] = []
        self.include_deprecated = False
        self.fields: list[str] | None = None
        self.exclude: list[str] | None = None
        for key, values in _group(items).items():
            self._add(key, values)
        if self.fields is not None and self.exclude is not None:
            raise _BadRequest("You cannot use both 'fields' and 'exclude' in the same request.")

    def _add(self, key: str, values: list[str]) -> None:
        if key in _V2_EXACT:
            getter, wanted = _V2_EXACT[key], set(values)
            self.predicates.append(lambda c: getter(c) in wanted)
        elif key == "closed":
            states = {_parse_bool(v) for v in values}
            self.predicates.append(lambda c: c.closed in states)
        elif key == "include_deprecated":
            self.include_deprecated = any(_parse_bool(v) for v in values)
        elif key.startswith("properties.") and len(key) > len("properties."):
            name, wanted = key[len("properties.") :], set(values)
            # An empty value matches cases where the property is unset or blank.
            self.predicates.append(lambda c: c.properties.get(name, "") in wanted)
        elif key.startswith("indices.") and len(key) > len("indices."):
            name, wanted = key[len("indices.") :], set(values)
            self.predicates.append(lambda c: c.indices.get(name, {}).get("case_id") in wanted)
        elif "." in key and key.split(".", 1)[0] in _V2_DATE_FIELDS and key.split(".", 1)[1] in _OPS:
            field_name, op = key.split(".", 1)
            getter_dt = _V2_DATE_FIELDS[field_name]
            bounds = [_parse_v2_datetime(v, op) for v in values]
            self.predicates.append(lambda c: any(_compare(op, getter_dt(c), b) for b in bounds))
        elif key == "query":
            raise _BadRequest(f"Bad query: the emulator does not evaluate case search expressions ({values[0]!r})")
        elif key == "fields" or key.startswith("fields."):
            if key == "fields":
                self.fields = values
        elif key == "exclude" or key.startswith("exclude."):
            if key == "exclude":
                self.exclude = values
        else:
            raise _BadRequest(f"'{key}' is not a valid parameter.")

    def matches(self, case: CaseRecord) -> bool:
        if case.deprecated and not self.include_deprecated:
            return False
        return all(p(case) for p in self.predicates)

    def shape(self, obj: dict[str, Any]) -> dict[str, Any]:
        if self.fields is not None:
            return _pick(obj, self.fields, keep=True)
        if self.exclude is not None:
            return _pick(obj, self.exclude, keep=False)
        return obj


_OPS = frozenset({"gt", "gte", "lt", "lte"})


def _pick(obj: dict[str, Any], names: list[str], *, keep: bool) -> dict[str, Any]:
    top = {n for n in names if "." not in n}
    nested: dict[str, set[str]] = {}
    for n in names:
        if "." in n:
            head, tail = n.split(".", 1)
            nested.setdefault(head, set()).add(tail)
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if key in top:
            if keep:
                out[key] = value
        elif key in nested and isinstance(value, dict):
            sub = nested[key]
            out[key] = {k: v for k, v in value.items() if (k in sub) == keep}
        elif not keep:
            out[key] = value
    return out


_V05_KNOWN = frozenset(
    {
        "limit",
        "offset",
        "order_by",
        "format",
        "xforms_by_name__full",
        "xforms_by_xmlns__full",
        "child_cases__full",
        "parent_cases__full",
    }
)
_V05_DATES: dict[str, tuple[Callable[[CaseRecord], datetime | None], str]] = {
    "indexed_on_start": (lambda c: c.indexed_on, "gte"),
    "indexed_on_end": (lambda c: c.indexed_on, "lte"),
    "date_modified_start": (lambda c: c.date_modified, "gte"),
    "date_modified_end": (lambda c: c.date_modified, "lte"),
    "server_date_modified_start": (lambda c: c.server_date_modified, "gte"),
    "server_date_modified_end": (lambda c: c.server_date_modified, "lte"),
}
_V05_EXACT: dict[str, Callable[[CaseRecord], str | None]] = {
    "owner_id": lambda c: c.owner_id,
    "user_id": lambda c: c.user_id,
    "type": lambda c: c.case_type,
    "case_type": lambda c: c.case_type,
    "name": lambda c: c.case_name,
    "case_name": lambda c: c.case_name,
    "external_id": lambda c: c.external_id,
}
_V05_ORDER: dict[str, Callable[[CaseRecord], datetime]] = {
    "indexed_on": lambda c: c.indexed_on,
    "date_modified": lambda c: c.date_modified,
    "server_date_modified": lambda c: c.server_date_modified,
}


# Parameters that shape or page the answer but do not decide which cases match.
_V05_PAGE_ONLY = frozenset({"limit", "offset", "format", "child_cases__full", "parent_cases__full"})


def _v05_field(obj: dict[str, Any], key: str) -> str | None:
    """A v0.5 object's field as the search index would hold it (top level, then properties)."""
    value = obj.get(key, obj["properties"].get(key))
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ---------------------------------------------------------------------------------------------
# The app


class _CommCare:
    def __init__(
        self,
        data: Dataset,
        *,
        domain: str,
        username: str,
        api_key: str,
        throttle: tuple[int, float] | None,
        v2: bool = True,
    ) -> None:
        self.v2 = v2
        self.data = data
        self.domain = domain
        self.username = username
        self.api_key = api_key
        self.throttle = throttle
        self.hits: dict[str, deque[float]] = {}
        self._written = False  # the data set is the process-wide seed's until the first write copies it
        self._forget()

    def _forget(self) -> None:
        # Between writes the data set does not change, so matches, cursor keys and the wire objects of
        # list pages are computed once (wire objects are never mutated: callers copy to add keys).
        self._matches: QueryCache[_Matched] = QueryCache()
        self._cursor_keys: dict[str, tuple[str, str]] = {}
        self._v2_objs: dict[str, dict[str, Any]] = {}
        self._v05_objs: dict[str, dict[str, Any]] = {}

    # -- plumbing --------------------------------------------------------------------------

    def _cursor_key(self, case: CaseRecord) -> tuple[str, str]:
        """Where a v2 cursor points: the case's wire ``indexed_on`` and its id."""
        return _memo(self._cursor_keys, case, lambda c: (_ts(c.indexed_on) or "", c.case_id))

    def _v2_obj(self, case: CaseRecord) -> dict[str, Any]:
        return _memo(self._v2_objs, case, lambda c: _v2(c, self.domain))

    def _v05_obj(self, case: CaseRecord) -> dict[str, Any]:
        return _memo(self._v05_objs, case, lambda c: _v05(c, self.domain))

    def _matched(self, key: tuple[Any, ...], match: Callable[[], list[CaseRecord]]) -> _Matched:
        """The cases ``match`` selects, remembered under ``key``."""
        return self._matches.get(key, lambda: _Matched(match(), self._cursor_key))

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "apikey" or ":" not in credentials:
            return False
        user, _, key = credentials.strip().rpartition(":")
        return hmac.compare_digest(user.encode(), self.username.encode()) & hmac.compare_digest(
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

    async def dispatch(self, request: Request) -> Response:
        if not self._authorised(request):
            return Response(b"", status_code=401, headers={"WWW-Authenticate": 'ApiKey realm="CommCare HQ"'})
        if request.path_params["domain"] != self.domain:
            return Response(b"", status_code=403)
        wait = self._throttled(self.username)
        if wait is not None:
            return Response(b"", status_code=429, headers={"Retry-After": str(max(1, math.ceil(wait)))})
        rest: str = request.path_params["rest"]
        if request.method in ("POST", "PUT") and self.v2 and rest.startswith("case/v2"):
            return await self._v2_write(request, rest)
        if request.method not in ("GET", "HEAD"):
            return JSONResponse({"error": "Request method not allowed"}, status_code=405)
        items = list(request.query_params.multi_items())
        try:
            if rest == "v0.5/case/":
                return self._v05_list(items)
            if rest.startswith("v0.5/case/") and rest.endswith("/") and rest.count("/") == 3:
                return self._v05_detail(rest.split("/")[2], items)
            if not self.v2:
                return Response(b"", status_code=404)
            if rest in ("case/v2/", "case/v2"):
                return self._v2_list(request, items)
            if rest.startswith("case/v2/ext/") and rest.endswith("/") and len(rest) > len("case/v2/ext//"):
                return self._v2_external(rest[len("case/v2/ext/") : -1])
            if rest.startswith("case/v2/") and "/" not in rest[len("case/v2/") :].rstrip("/"):
                return self._v2_by_ids(rest[len("case/v2/") :].rstrip("/"))
        except _BadRequest as exc:
            return JSONResponse({"error": exc.message}, status_code=400)
        return Response(b"", status_code=404)

    # -- v0.5 ------------------------------------------------------------------------------

    def _v05_list(self, items: list[tuple[str, str]]) -> Response:
        params = dict(items)  # like Django's QueryDict.get: the last value of a repeated key wins
        # Tastypie reads limit=0 as "as many as allowed".
        limit = _int_param("limit", params.get("limit"), DEFAULT_LIMIT, minimum=0) or MAX_LIMIT
        if limit > MAX_LIMIT:
            raise _BadRequest(f"Limit must not exceed {MAX_LIMIT}; got {limit}.")
        offset = _int_param("offset", params.get("offset"), 0, minimum=0)
        if params.get("format", "json") != "json":
            raise _BadRequest("Only format=json is supported by this emulator.")
        closed: bool | None = None
        if "closed" in params:
            closed = _parse_bool(params["closed"])
        order = params.get("order_by", "server_date_modified")
        if order.lstrip("-") not in _V05_ORDER:
            raise _BadRequest(f"No matching 'order_by' field '{order}'. Use one of: {', '.join(_V05_ORDER)}.")
        ranges = [
            (getter, op, _parse_v05_datetime(key, params[key], op))
            for key, (getter, op) in _V05_DATES.items()
            if key in params
        ]
        exact = [(getter, params[key]) for key, getter in _V05_EXACT.items() if key in params]
        passthrough = [
            (key, value)
            for key, value in params.items()
            if key not in _V05_KNOWN and key not in _V05_DATES and key not in _V05_EXACT and key != "closed"
        ]

        def match() -> list[CaseRecord]:
            matched: list[CaseRecord] = []
            for case in self.data.cases:
                if closed is not None and case.closed != closed:
                    continue
                if any(getter(case) != wanted for getter, wanted in exact):
                    continue
                if not all(_compare(op, getter(case), bound) for getter, op, bound in ranges):
                    continue
                # The quirk: an unknown parameter is an exact-match filter on that field, not an error.
                if passthrough:
                    obj = self._v05_obj(case)
                    if any(_v05_field(obj, key) != value for key, value in passthrough):
                        continue
                matched.append(case)
            key_fn = _V05_ORDER[order.lstrip("-")]
            matched.sort(key=lambda c: (key_fn(c), c.case_id), reverse=order.startswith("-"))
            return matched

        # Everything but paging and the related-case flags decides the match (the last value of a key wins).
        cache_key = ("v0.5", *sorted((k, v) for k, v in params.items() if k not in _V05_PAGE_ONLY))
        matched = self._matched(cache_key, match).cases

        page = matched[offset : offset + limit]
        extra = [(k, v) for k, v in items if k not in ("limit", "offset")]
        base = f"/a/{self.domain}/api/v0.5/case/?"
        total = len(matched)
        objects = [self._v05_related(case, dict(self._v05_obj(case)), params) for case in page]
        next_url = (
            base + urlencode([("limit", limit), ("offset", offset + limit), *extra]) if offset + limit < total else None
        )
        previous = (
            base + urlencode([("limit", limit), ("offset", max(0, offset - limit)), *extra]) if offset > 0 else None
        )
        meta = {"limit": limit, "next": next_url, "offset": offset, "previous": previous, "total_count": total}
        return JSONResponse({"meta": meta, "objects": objects})

    def _v05_related(self, case: CaseRecord, obj: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        if _flag(params.get("child_cases__full")):
            obj["child_cases"] = {c.case_id: _v05(c, self.domain) for c in self.data.children.get(case.case_id, [])}
        if _flag(params.get("parent_cases__full")):
            parents = (self.data.by_id.get(i["case_id"]) for i in case.indices.values())
            obj["parent_cases"] = {p.case_id: _v05(p, self.domain) for p in parents if p is not None}
        return obj

    def _v05_detail(self, case_id: str, items: list[tuple[str, str]]) -> Response:
        case = self.data.by_id.get(case_id)
        if case is None:
            return Response(b"", status_code=404)
        return JSONResponse(self._v05_related(case, _v05(case, self.domain), dict(items)))

    # -- v2 --------------------------------------------------------------------------------

    def _v2_list(self, request: Request, items: list[tuple[str, str]]) -> Response:
        after: tuple[str, str] | None = None
        limit_raw = next((v for k, v in reversed(items) if k == "limit"), None)
        cursor = next((v for k, v in reversed(items) if k == "cursor"), None)
        if cursor is not None:
            # The cursor carries the whole query; only an explicit limit may accompany it.
            query_items, cursor_limit, after = _decode_cursor(cursor)
            if limit_raw is None:
                limit_raw = str(cursor_limit)
        else:
            query_items = [(k, v) for k, v in items if k != "limit"]
        limit = _int_param("limit", limit_raw, DEFAULT_LIMIT, minimum=1)
        if limit > MAX_LIMIT:
            raise _BadRequest(f"Limit may not exceed {MAX_LIMIT}")
        query = _V2Query(query_items)

        # Same key OR, different keys AND: neither the order of the items nor a repeat changes the match.
        cache_key = ("v2", *sorted(set(query_items)))
        found = self._matched(cache_key, lambda: [c for c in self.data.cases if query.matches(c)])
        matched = found.cases
        start = 0
        if after is not None:
            start = found.position_after(after)
        page = matched[start : start + limit]
        body: dict[str, Any] = {
            "matching_records": len(matched),
            "cases": [query.shape(self._v2_obj(c)) for c in page],
        }
        if start + limit < len(matched) and page:
            last = page[-1]
            token = _encode_cursor(query_items, limit, self._cursor_key(last))
            url = request.url
            body["next"] = f"{url.scheme}://{url.netloc}/a/{self.domain}/api/case/v2/?cursor={quote(token, safe='')}"
        return JSONResponse(body)

    async def _v2_write(self, request: Request, rest: str) -> Response:
        """POST/PUT on the v2 case API. No await between reading the data and writing it: atomic."""
        try:
            body = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"error": "Payload is not valid JSON"}, status_code=400)
        if not self._written:
            self.data, self._written = copy_dataset(self.data), True
        writer = CaseWriter(self.data, self.username, lambda c: _v2(c, self.domain))
        tail = rest[len("case/v2") :].lstrip("/")
        try:
            if tail == "":
                answer = writer.post(body) if request.method == "POST" else writer.put(body)
            elif request.method != "PUT" or tail == "bulk-fetch/":
                return JSONResponse({"error": "Request method not allowed"}, status_code=405)
            elif tail.startswith("ext/") and tail.endswith("/") and len(tail) > len("ext//"):
                answer = writer.put_external(tail[len("ext/") : -1], body)
            elif "/" not in tail.rstrip("/"):
                answer = writer.put_case(tail.rstrip("/"), body)
            else:
                return Response(b"", status_code=404)
        except WriteRefused as exc:
            return JSONResponse({"error": exc.message}, status_code=400)
        finally:
            self._forget()
        return JSONResponse(answer)

    def _v2_by_ids(self, raw: str) -> Response:
        ids = [i for i in raw.split(",") if i]
        if not ids:
            return Response(b"", status_code=404)
        if len(ids) == 1 and "," not in raw:
            case = self.data.by_id.get(ids[0])
            if case is None:
                return JSONResponse({"error": f"Case '{ids[0]}' not found"}, status_code=404)
            return JSONResponse(_v2(case, self.domain))
        cases: list[dict[str, Any]] = []
        missing = 0
        for case_id in ids:
            case = self.data.by_id.get(case_id)
            if case is None:
                missing += 1
                cases.append({"case_id": case_id, "error": "not found"})
            else:
                cases.append(_v2(case, self.domain))
        return JSONResponse({"matching_records": len(ids) - missing, "missing_records": missing, "cases": cases})

    def _v2_external(self, external_id: str) -> Response:
        found = self.data.by_external_id.get(external_id, [])
        if not found:
            return JSONResponse({"error": f"Case with external_id '{external_id}' not found"}, status_code=404)
        if len(found) > 1:
            ids = ", ".join(c.case_id for c in found)
            raise _BadRequest(f"Multiple cases found with external_id '{external_id}': {ids}")
        return JSONResponse(_v2(found[0], self.domain))


V = TypeVar("V")


def _memo(store: dict[str, V], case: CaseRecord, make: Callable[[CaseRecord], V]) -> V:
    value = store.get(case.case_id)
    if value is None:
        value = store[case.case_id] = make(case)
    return value


class _Matched:
    """One query's matched cases in answer order, and (lazily) their v2 cursor keys."""

    def __init__(self, cases: list[CaseRecord], cursor_key: Callable[[CaseRecord], tuple[str, str]]) -> None:
        self.cases = cases
        self._cursor_key = cursor_key
        self._keys: list[tuple[str, str]] | None = None
        self._sorted = False

    def position_after(self, after: tuple[str, str]) -> int:
        """Index of the first case whose cursor key sorts after ``after`` (``len`` if none)."""
        if self._keys is None:
            self._keys = [self._cursor_key(c) for c in self.cases]
            self._sorted = all(a <= b for a, b in zip(self._keys, self._keys[1:], strict=False))
        if self._sorted:
            return bisect.bisect_right(self._keys, after)
        return next((i for i, k in enumerate(self._keys) if k > after), len(self._keys))


def _flag(value: str | None) -> bool:
    return value is not None and value.strip().lower() in _TRUE


def _encode_cursor(items: list[tuple[str, str]], limit: int, after: tuple[str, str]) -> str:
    raw = json.dumps({"q": items, "l": limit, "a": list(after)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(token: str) -> tuple[list[tuple[str, str]], int, tuple[str, str]]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        items = [(str(k), str(v)) for k, v in data["q"]]
        limit = int(data["l"])
        after = (str(data["a"][0]), str(data["a"][1]))
    except (ValueError, TypeError, KeyError, IndexError, binascii.Error):
        raise _BadRequest("Invalid cursor") from None
    if any(k in ("cursor", "limit") for k, _ in items):
        raise _BadRequest("Invalid cursor")
    return items, limit, after
