"""Provider-written text made safe to hand to a model: control characters out, size bounded."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r"[ \t]{2,}")


def clean(text: object, limit: int = 600) -> str:
    """``text`` as a single safe string of at most ``limit`` characters (cut marked with '…')."""
    if text is None:
        return ""
    s = _CONTROL.sub(" ", str(text)).replace("\r", "")
    s = _SPACES.sub(" ", s).strip()
    if len(s) > limit:
        s = s[: limit - 1].rstrip() + "…"
    return s


def one_line(text: object, limit: int = 120) -> str:
    return clean(str(text or "").replace("\n", " "), limit)
