"""Provider-written text made safe to hand to a model: control characters out, size bounded."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from pydantic import BaseModel

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
# A web link of RFC 3986 characters only (no spaces, controls, quotes, angle brackets or non-ASCII):
# https, or plain http to a host that never leaves the machine (the emulators: loopback, ".invalid").
_URL = re.compile(
    r"(?:https://[A-Za-z0-9.-]+|http://(?:127\.0\.0\.1|localhost|\[::1\]|[A-Za-z0-9.-]+\.invalid))"
    r"(?::[0-9]{1,5})?(?:[/?#][A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*)?"
)
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
# An e-mail address as inputs accept it (order_case's applicant, search_cases' Certn filter): the schema pattern.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
MAX_URL = 4096
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
    s = str(text)
    # Printable ASCII has no control, escape, tab or invisible character: only runs of spaces to fold.
    if not (s.isascii() and s.isprintable()):
        s = strip_controls(s).replace("\r", "")
        s = _SPACES.sub(" ", s)
    elif "  " in s:
        s = _SPACES.sub(" ", s)
    s = s.strip()
    if len(s) > limit:
        note = f"… [cut: {len(s)} characters in all]" if limit >= _NOTE_FROM else "…"
        s = s[: limit - len(note)].rstrip() + note
    return s


def one_line(text: object, limit: int = 120) -> str:
    return clean(str(text or "").replace("\n", " "), limit)


def web_link(value: object, limit: int = MAX_URL) -> str | None:
    """``value`` when it is a plain https link (see ``_URL``) of at most ``limit`` characters, else None."""
    if isinstance(value, str) and len(value) <= limit and _URL.fullmatch(value):
        return value
    return None


def is_uuid(value: object) -> bool:
    """True for a UUID in its canonical 8-4-4-4-12 hex form (what Certn's ids are)."""
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


def scrub(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, strings, scalars) with controls stripped from every string.

    The last line of defence for tool results: whatever a source forgot to ``clean``, no control
    character, terminal escape or bidi override reaches the model. Newlines and tabs stay.
    """
    # Fast path, one pass over the JSON text: JSON writes C0 controls as \b, \f, \r or \u00XX (\n
    # and \t may stay) and leaves every other character as it is, so a clean text proves every
    # string in ``value`` clean. A literal backslash before such a letter only sends us the slow way.
    return value if _clean_json(json.dumps(value, ensure_ascii=False, default=str)) else _scrub(value)


def scrub_model(model: BaseModel) -> Any:
    """``model.model_dump(mode="json", exclude_none=True)`` made safe as ``scrub`` makes it.

    The check reads pydantic's own JSON of the model (about three times faster than ``json.dumps``
    of the dump), which escapes exactly the characters ``json.dumps`` escapes.
    """
    data = model.model_dump(mode="json", exclude_none=True)
    try:
        text = model.model_dump_json(exclude_none=True)
    except ValueError:  # what pydantic cannot write as JSON (a lone surrogate): the slow way
        return scrub(data)
    return data if _clean_json(text) else _scrub(data)


def _clean_json(text: str) -> bool:
    """Whether the JSON text ``text`` proves every string in it free of what ``strip_controls`` removes."""
    if _JSON_ESCAPED_CONTROL.search(text):
        return False
    # JSON text has no raw newline or tab: printable ASCII holds none of _CONTROL's characters.
    return (text.isascii() and text.isprintable()) or not _CONTROL.search(text)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return strip_controls(value)
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


# Refused in single-line input fields beyond the Unicode "C*" and separator categories: the whole tag
# block (some of it unassigned, so "Cn"), since models read tag characters as hidden text.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def first_invisible(value: str) -> str | None:
    """The first control, format (zero-width, bidi, tag), surrogate or line-separator character, if any."""
    if value.isascii() and value.isprintable():
        return None
    for ch in value:
        if unicodedata.category(ch) in _INVISIBLE_CATEGORIES or 0xE0000 <= ord(ch) <= 0xE007F:
            return ch
    return None


def refuse_invisible(value: object) -> object:
    """Input validator: a single-line value with an invisible or control character is refused.

    What the user confirms must be what is sent, character for character, and no such character
    is ever meaningful in an e-mail, a name, an address, a tag or a filter. Used as
    ``BeforeValidator``, so it names the code point before any pattern check and leaves the schema as it is.
    """
    if isinstance(value, str):
        bad = first_invisible(value)
        if bad is not None:
            raise ValueError(f"contains an invisible or control character (U+{ord(bad):04X})")
    return value
