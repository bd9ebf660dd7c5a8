"""The Clearinghouse emulator's state and search rules: read-only cases, each distinct filter matched once."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

from casebridge.providers.clearinghouse import vocab
from casebridge.sandbox.clearinghouse.data import CaseRecord, Dataset
from casebridge.sandbox.emulation import QueryCache

INTEGER_FILTERS = frozenset({*vocab.FILTERS, "state", "court", "special_collection", "case_id"})


class BadFilter(Exception):
    """A refused filter; the API answers ``[message]`` with a 400."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ClearinghouseStore:
    def __init__(self, data: Dataset) -> None:
        self.data = data
        # Read-only API: each distinct filter is matched and ordered once.
        self._matches: QueryCache[Ordered] = QueryCache()

    def search(self, pairs: list[tuple[str, str]]) -> Ordered:
        """The cases ``pairs`` select: integer filters AND across keys and OR within one, ``text`` terms OR."""
        wanted: dict[str, set[int]] = {}
        texts: list[list[str]] = []
        for key, value in pairs:
            if key == "text":
                texts.append(value.lower().split())
                continue
            if key not in INTEGER_FILTERS:
                raise BadFilter(f"API Error: Key: {key}, Value: {value} not found.")
            try:
                number = int(value)
            except ValueError:
                raise BadFilter(f"API Error: {value} is not an integer.") from None
            # The docs show defendant levels sent as defendant_type too; the id ranges are disjoint.
            if key == "defendant_type" and number in vocab.DEFENDANT_LEVEL:
                key = "defendant_level"
            wanted.setdefault(key, set()).add(number)

        def matches(case: CaseRecord) -> bool:
            if any(not (case.ids[k] & ids) for k, ids in wanted.items()):
                return False
            return not texts or any(all(t in case.haystack for t in terms) for terms in texts)

        # Order and repeats do not change the match.
        cache_key = (tuple(sorted((k, tuple(sorted(ids))) for k, ids in wanted.items())), frozenset(map(tuple, texts)))
        return self._matches.get(cache_key, lambda: Ordered([case for case in self.data.cases if matches(case)]))

    def case(self, case_id: int) -> CaseRecord | None:
        return self.data.by_id.get(case_id)


class Ordered:
    """Items in the API's order (descending id), with their negated ids (ascending) for bisection."""

    def __init__(self, items: Sequence[Any]) -> None:
        self.items = sorted(items, key=item_id, reverse=True)
        self._keys = [-item_id(item) for item in self.items]

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


def item_id(item: Any) -> int:
    """The id of a case or of one of its documents, dockets or resources."""
    return int(item.id if isinstance(item, CaseRecord) else item["id"])
