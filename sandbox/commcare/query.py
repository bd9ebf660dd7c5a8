"""CommCare's list query rules: v0.5 (Tastypie) and Case Data API v2 parameters, parsed and matched;
a refused query raises ``BadRequest`` (the app answers 400 with ``{"error": message}``)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from casebridge.sandbox.commcare.data import CaseRecord

MAX_LIMIT = 5000
DEFAULT_LIMIT = 20

Predicate = Callable[[CaseRecord], bool]


class BadRequest(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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
        raise BadRequest(f"Cannot parse datetime '{raw}'") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return _bound(value, bool(_DATE_ONLY.match(raw.strip())), op)


def _parse_v05_datetime(name: str, raw: str, op: str) -> datetime:
    if not _V05_DATE.match(raw):
        raise BadRequest(
            f"Invalid value '{raw}' for '{name}': use a date or date and time without a UTC offset, "
            "e.g. 2021-01-01 or 2021-01-01T06:05:42"
        )
    try:
        value = datetime.fromisoformat(raw.rstrip("Z")).replace(tzinfo=UTC)
    except ValueError:
        raise BadRequest(f"Invalid value '{raw}' for '{name}'") from None
    return _bound(value, "T" not in raw, op)


def _parse_bool(raw: str) -> bool:
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise BadRequest(f"'{raw}' is not a valid boolean value")


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
        raise BadRequest(f"Invalid {name} '{raw}' provided. Please provide a positive integer.")
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


class V2Query:
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
            raise BadRequest("You cannot use both 'fields' and 'exclude' in the same request.")

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
            raise BadRequest(f"Bad query: the emulator does not evaluate case search expressions ({values[0]!r})")
        elif key == "fields" or key.startswith("fields."):
            if key == "fields":
                self.fields = values
        elif key == "exclude" or key.startswith("exclude."):
            if key == "exclude":
                self.exclude = values
        else:
            raise BadRequest(f"'{key}' is not a valid parameter.")

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


class V05Query:
    """A parsed v0.5 list query; like Django's ``QueryDict.get``, the last value of a repeated key wins."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        params = self.params = dict(items)
        # Tastypie reads limit=0 as "as many as allowed".
        self.limit = _int_param("limit", params.get("limit"), DEFAULT_LIMIT, minimum=0) or MAX_LIMIT
        if self.limit > MAX_LIMIT:
            raise BadRequest(f"Limit must not exceed {MAX_LIMIT}; got {self.limit}.")
        self.offset = _int_param("offset", params.get("offset"), 0, minimum=0)
        if params.get("format", "json") != "json":
            raise BadRequest("Only format=json is supported by this emulator.")
        self.closed: bool | None = None
        if "closed" in params:
            self.closed = _parse_bool(params["closed"])
        self.order = params.get("order_by", "server_date_modified")
        if self.order.lstrip("-") not in _V05_ORDER:
            raise BadRequest(f"No matching 'order_by' field '{self.order}'. Use one of: {', '.join(_V05_ORDER)}.")
        self.ranges = [
            (getter, op, _parse_v05_datetime(key, params[key], op))
            for key, (getter, op) in _V05_DATES.items()
            if key in params
        ]
        self.exact = [(getter, params[key]) for key, getter in _V05_EXACT.items() if key in params]
        self.passthrough = [
            (key, value)
            for key, value in params.items()
            if key not in _V05_KNOWN and key not in _V05_DATES and key not in _V05_EXACT and key != "closed"
        ]
        # Everything but paging and the related-case flags decides the match (the last value of a key wins).
        self.cache_key = ("v0.5", *sorted((k, v) for k, v in params.items() if k not in _V05_PAGE_ONLY))

    def select(self, cases: Iterable[CaseRecord], wire: Callable[[CaseRecord], dict[str, Any]]) -> list[CaseRecord]:
        """The matching ``cases`` in answer order; ``wire`` gives a case's v0.5 object."""
        matched: list[CaseRecord] = []
        for case in cases:
            if self.closed is not None and case.closed != self.closed:
                continue
            if any(getter(case) != wanted for getter, wanted in self.exact):
                continue
            if not all(_compare(op, getter(case), bound) for getter, op, bound in self.ranges):
                continue
            # The quirk: an unknown parameter is an exact-match filter on that field, not an error.
            if self.passthrough:
                obj = wire(case)
                if any(_v05_field(obj, key) != value for key, value in self.passthrough):
                    continue
            matched.append(case)
        key_fn = _V05_ORDER[self.order.lstrip("-")]
        matched.sort(key=lambda c: (key_fn(c), c.case_id), reverse=self.order.startswith("-"))
        return matched


def flag(value: str | None) -> bool:
    """Whether a flag parameter such as ``child_cases__full`` is on."""
    return value is not None and value.strip().lower() in _TRUE


def encode_cursor(items: list[tuple[str, str]], limit: int, after: tuple[str, str]) -> str:
    """A v2 ``next`` cursor: the whole query, the page size and the last case's key."""
    raw = json.dumps({"q": items, "l": limit, "a": list(after)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[list[tuple[str, str]], int, tuple[str, str]]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        items = [(str(k), str(v)) for k, v in data["q"]]
        limit = int(data["l"])
        after = (str(data["a"][0]), str(data["a"][1]))
    except (ValueError, TypeError, KeyError, IndexError, binascii.Error):
        raise BadRequest("Invalid cursor") from None
    if any(k in ("cursor", "limit") for k, _ in items):
        raise BadRequest("Invalid cursor")
    return items, limit, after


class V2Page:
    """A v2 list request: its query (a ``cursor`` carries the whole query), page size and position."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self.after: tuple[str, str] | None = None
        limit_raw = next((v for k, v in reversed(items) if k == "limit"), None)
        cursor = next((v for k, v in reversed(items) if k == "cursor"), None)
        if cursor is not None:
            # Only an explicit limit may accompany a cursor.
            self.items, cursor_limit, self.after = decode_cursor(cursor)
            if limit_raw is None:
                limit_raw = str(cursor_limit)
        else:
            self.items = [(k, v) for k, v in items if k != "limit"]
        self.limit = _int_param("limit", limit_raw, DEFAULT_LIMIT, minimum=1)
        if self.limit > MAX_LIMIT:
            raise BadRequest(f"Limit may not exceed {MAX_LIMIT}")
        self.query = V2Query(self.items)
        # Same key OR, different keys AND: neither the order of the items nor a repeat changes the match.
        self.cache_key = ("v2", *sorted(set(self.items)))
