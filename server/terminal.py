"""Text from the ledger or a provider made safe to print on a terminal: control and formatting characters escaped."""

from __future__ import annotations

import unicodedata

# Cc: C0 controls (ESC, BEL, CR, ...), DEL and C1 controls; Cf: bidi overrides and isolates, zero-width
# characters, soft hyphen; Zl/Zp: line and paragraph separators; Cs: lone surrogates (unprintable).
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def printable(text: str) -> str:
    """``text`` with every control, formatting or separator character shown as ``\\x1b``, ``\\u202e``, ..."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(_escape(ch) if unicodedata.category(ch) in _ESCAPED_CATEGORIES else ch for ch in text)


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
