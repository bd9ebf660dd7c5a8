"""The CommCare emulator's state: one project's cases (copied on the first write), their wire objects
and the cases each query matched, remembered between writes."""

from __future__ import annotations

import bisect
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from casebridge.sandbox.commcare.data import CaseRecord, Dataset
from casebridge.sandbox.commcare.writes import CaseWriter, copy_dataset
from casebridge.sandbox.emulation import QueryCache

T = TypeVar("T")
V = TypeVar("V")


def wire_time(value: datetime | None, *, micro: bool = True) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


def v05_object(case: CaseRecord, domain: str) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "case_name": case.case_name,
        "case_type": case.case_type,
        "date_opened": wire_time(case.date_opened, micro=False),
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
        "date_closed": wire_time(case.date_closed),
        "date_modified": wire_time(case.date_modified),
        "server_date_modified": wire_time(case.server_date_modified),
        "server_date_opened": wire_time(case.date_opened),
        "indexed_on": wire_time(case.indexed_on),
        "opened_by": case.opened_by,
        "closed_by": case.closed_by,
        "xform_ids": list(case.xform_ids),
        "properties": properties,
        "indices": {name: dict(index) for name, index in case.indices.items()},
        "resource_uri": "",
    }


def v2_object(case: CaseRecord, domain: str) -> dict[str, Any]:
    return {
        "domain": domain,
        "case_id": case.case_id,
        "case_type": case.case_type,
        "case_name": case.case_name,
        "external_id": case.external_id,
        "owner_id": case.owner_id,
        "date_opened": wire_time(case.date_opened),
        "last_modified": wire_time(case.date_modified),
        "server_last_modified": wire_time(case.server_date_modified),
        "indexed_on": wire_time(case.indexed_on),
        "closed": case.closed,
        "date_closed": wire_time(case.date_closed),
        "properties": dict(case.properties),
        "indices": {name: dict(index) for name, index in case.indices.items()},
    }


class CommCareStore:
    """The data set behind one emulator; ``write`` applies a change through a ``CaseWriter``."""

    def __init__(self, data: Dataset, *, domain: str, username: str) -> None:
        self.data = data
        self.domain = domain
        self.username = username
        self._written = False  # the data set is the process-wide seed's until the first write copies it
        self._forget()

    def _forget(self) -> None:
        # Between writes the data set does not change, so matches, cursor keys and the wire objects of
        # list pages are computed once (wire objects are never mutated: callers copy to add keys).
        self._matches: QueryCache[Matched] = QueryCache()
        self._cursor_keys: dict[str, tuple[str, str]] = {}
        self._v2_objs: dict[str, dict[str, Any]] = {}
        self._v05_objs: dict[str, dict[str, Any]] = {}

    def cursor_key(self, case: CaseRecord) -> tuple[str, str]:
        """Where a v2 cursor points: the case's wire ``indexed_on`` and its id."""
        return _memo(self._cursor_keys, case, lambda c: (wire_time(c.indexed_on) or "", c.case_id))

    def v2_obj(self, case: CaseRecord) -> dict[str, Any]:
        """The case's v2 wire object, shared: copy it before changing it."""
        return _memo(self._v2_objs, case, lambda c: v2_object(c, self.domain))

    def v05_obj(self, case: CaseRecord) -> dict[str, Any]:
        """The case's v0.5 wire object, shared: copy it before changing it."""
        return _memo(self._v05_objs, case, lambda c: v05_object(c, self.domain))

    def matched(self, key: tuple[Any, ...], match: Callable[[list[CaseRecord]], list[CaseRecord]]) -> Matched:
        """The cases ``match`` selects from all cases, remembered under ``key``."""
        return self._matches.get(key, lambda: Matched(match(self.data.cases), self.cursor_key))

    def write(self, change: Callable[[CaseWriter], T]) -> T:
        """Apply ``change``; nothing awaits between reading the data and writing it, so each write is atomic."""
        if not self._written:
            self.data, self._written = copy_dataset(self.data), True
        try:
            return change(CaseWriter(self.data, self.username, lambda c: v2_object(c, self.domain)))
        finally:
            self._forget()


def _memo(store: dict[str, V], case: CaseRecord, make: Callable[[CaseRecord], V]) -> V:
    value = store.get(case.case_id)
    if value is None:
        value = store[case.case_id] = make(case)
    return value


class Matched:
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
