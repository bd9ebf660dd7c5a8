"""QueryCache: an emulator's search answers, computed once per query, least recently used dropped first."""

from __future__ import annotations

from casebridge.sandbox.emulation import QueryCache


def test_computes_once_and_drops_the_least_recently_used() -> None:
    computed: list[str] = []
    cache: QueryCache[str] = QueryCache(size=2)

    def answer(key: str) -> str:
        return cache.get(key, lambda: computed.append(key) or key.upper())

    assert [answer("a"), answer("b"), answer("a")] == ["A", "B", "A"]
    assert computed == ["a", "b"]  # "a" asked twice, computed once
    answer("c")  # over the size: "b" (least recently used) goes, "a" stays
    answer("a")
    answer("b")
    assert computed == ["a", "b", "c", "b"]
    cache.clear()
    answer("a")
    assert computed[-1] == "a"
