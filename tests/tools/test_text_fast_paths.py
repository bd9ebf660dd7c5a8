"""The rendering shortcuts keep the slow way's answers: ``clean``'s printable-ASCII path, ``scrub_model``'s
check of pydantic's JSON, and masking that returns an untouched search row as it is."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel

from casebridge.tools import privacy
from casebridge.tools.models import CaseSummary
from casebridge.tools.text import clean, scrub, scrub_model, strip_controls

_SPACES = re.compile(r"[ \t]{2,}")

NASTY = [
    "",
    "plain",
    "  padded  ",
    "two  spaces and\tatab",
    "line\r\nbreak",
    "\x1b[31mred\x1b[0m",
    "bidi \u202e override",
    "zero\u200bwidth",
    "del\x7f and c1 \x85",
    "tag \U000e0041 block",
    "bom\ufeff",
    "sep\u2028line",
    "café  au\u00a0lait",
    "x" * 700,
    "y " * 400,
]


def _slow_clean(text: object, limit: int = 600) -> str:
    """``clean`` as it was: every string through every regex."""
    s = strip_controls(str(text)).replace("\r", "")
    s = _SPACES.sub(" ", s).strip()
    if len(s) > limit:
        note = f"… [cut: {len(s)} characters in all]" if limit >= 80 else "…"
        s = s[: limit - len(note)].rstrip() + note
    return s


@pytest.mark.parametrize("text", NASTY)
@pytest.mark.parametrize("limit", [10, 120, 600])
def test_clean_is_the_slow_clean(text: str, limit: int) -> None:
    assert clean(text, limit) == _slow_clean(text, limit)


class Row(BaseModel):
    title: str
    facts: dict[str, str | list[str] | None] = {}
    note: str | None = None


@pytest.mark.parametrize("text", [*NASTY, 'quote " and back\\slash \\b \\u0007', "\x00nul", "bell\x07", "\x0c\x08"])
def test_scrub_model_is_scrub_of_the_dump(text: str) -> None:
    row = Row(title=text, facts={text: [text, "ok"], "k": text}, note=None)
    assert scrub_model(row) == scrub(row.model_dump(mode="json", exclude_none=True))


def test_scrub_model_of_what_pydantic_cannot_write_takes_the_slow_way() -> None:
    row = Row(title="lone \ud800 surrogate\x07")
    assert scrub_model(row) == scrub(row.model_dump(mode="json", exclude_none=True))


def test_an_untouched_row_is_returned_as_it_is_a_masked_one_is_a_copy() -> None:
    plain = CaseSummary(ref="commcare:abc", title="Jane Doe", status="open", facts={"external_id": "PAT-01815"})
    personal = CaseSummary(ref="commcare:abd", title="Jane Doe", facts={"note": "call 555-123-4567"})
    masking = privacy.Masking()
    assert masking.summary(plain) is plain
    masked = masking.summary(personal)
    assert masked is not personal and "555-123-4567" not in str(masked.facts)
    assert personal.facts == {"note": "call 555-123-4567"}  # the original is left as it was
