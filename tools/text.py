"""Provider-written text made safe to hand to a model: control characters out, size bounded."""

from __future__ import annotations

import json
import re
from typing import Any

# Terminal escape sequences (CSI such as "ESC[31m", OSC such as "ESC]0;title BEL", two-byte ESC x):
# removed whole, so no "[31m" residue is left behind.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
# C0/C1 controls (not tab or newline), bidi overrides and isolates, zero-width and invisible
# characters, line/paragraph separators (they break lines like "\n" in some renderers) and the
# Unicode tag block (invisible text that models still read).
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb"
    "\U000e0000-\U000e007f]"
)
_JSON_ESCAPED_CONTROL = re.compile(r"\\(?:u00|[bfr])")
_SPACES = re.compile(r"[ \t]{2,}")
# Fields longer than this get a cut note naming their full size; shorter limits get a bare "…".
_NOTE_FROM = 80


def strip_controls(text: str) -> str:
    """``text`` without terminal escapes and with every control or invisible character made a space."""
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    return _CONTROL.sub(" ", text)


def clean(text: object, limit: int = 600) -> str:
    """``text`` as a single safe string of at most ``limit`` characters.

    A cut is marked: "… [cut: N characters in all]" when ``limit`` leaves room for the note, else "…".
    """
    if text is None:
        return ""
    s = strip_controls(str(text)).replace("\r", "")
    s = _SPACES.sub(" ", s).strip()
    if len(s) > limit:
        note = f"… [cut: {len(s)} characters in all]" if limit >= _NOTE_FROM else "…"
        s = s[: limit - len(note)].rstrip() + note
    return s


def one_line(text: object, limit: int = 120) -> str:
    return clean(str(text or "").replace("\n", " "), limit)


def scrub(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, strings, scalars) with controls stripped from every string.

    The last line of defence for tool results: whatever a source forgot to ``clean``, no control
    character, terminal escape or bidi override reaches the model. Newlines and tabs stay.
    """
    # Fast path, one pass over the JSON text: JSON writes C0 controls as \b, \f, \r or \u00XX (\n
    # and \t may stay) and leaves every other character as it is, so a clean text proves every
    # string in ``value`` clean. A literal backslash before such a letter only sends us the slow way.
    text = json.dumps(value, ensure_ascii=False, default=str)
    if not _JSON_ESCAPED_CONTROL.search(text) and not _CONTROL.search(text):
        return value
    return _scrub(value)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return strip_controls(value)
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def reject_controls(value: str | None) -> str | None:
    """Input validator: a filter value with control or invisible characters is refused, never sent on.

    Services answer such bytes unpredictably (a NUL in a query string is a 500 at Django sites), and
    none is ever meaningful in a search value. Used as ``AfterValidator`` so the schema is unchanged.
    """
    if value is not None and (_CONTROL.search(value) or "\t" in value or "\n" in value):
        raise ValueError("must not contain control characters (tabs, line breaks, escapes, bidi or zero-width marks)")
    return value
