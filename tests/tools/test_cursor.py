"""Cursors round-trip, and anything altered, cut or foreign is refused."""

from __future__ import annotations

import base64

import pytest

from casebridge.tools import cursor


def test_round_trip() -> None:
    token = cursor.encode("commcare", {"case_type": "patient"}, {"c": "abc", "k": 3})
    data = cursor.decode(token)
    assert (data.provider, data.filters, data.state) == ("commcare", {"case_type": "patient"}, {"c": "abc", "k": 3})
    assert "=" not in token and "/" not in token and "+" not in token


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-3],
        lambda t: t[:10] + ("A" if t[10] != "A" else "B") + t[11:],
        lambda t: "not a cursor at all!",
        lambda t: "",
        lambda t: "A" * 5000,
        lambda t: base64.urlsafe_b64encode(b"x" * 40).decode(),
    ],
)
def test_tampered_or_garbage_cursors_are_refused(mangle) -> None:  # type: ignore[no-untyped-def]
    token = cursor.encode("clearinghouse", {"text": "jail"}, {"c": None, "k": 0})
    with pytest.raises(cursor.CursorError):
        cursor.decode(mangle(token))


def test_page_size_travels_in_the_cursor() -> None:
    assert cursor.decode(cursor.encode("certn", {}, {"p": 2}, 50)).page_size == 50
    assert cursor.decode(cursor.encode("certn", {}, {"p": 2})).page_size is None


@pytest.mark.parametrize("size", [0, 51, True, "10", -1])
def test_a_page_size_no_search_has_is_refused(size: object) -> None:
    token = cursor.encode("certn", {}, {"p": 2}, size)  # type: ignore[arg-type]
    with pytest.raises(cursor.CursorError):
        cursor.decode(token)
