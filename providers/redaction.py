"""Removes secrets from provider-originated text: exact, any case, URL, base64, hex and partial echoes.

Clean text costs one pass: the lower-cased text's 5-character grams at every 4th position are looked
up in a set holding 4 consecutive grams of each form (a form is at least 8 characters long, so each
occurrence has one of them at a sampled position); only a hit runs the one regex (a trie of every
form of every secret, built on first use).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "[redacted]"
MIN_SECRET = 4  # shorter values are never treated as secrets
MIN_ENCODED = 8  # from this length the encodings of a secret are redacted too
MIN_PARTIAL = 12  # from this length any run of PARTIAL_RUN of its characters is redacted
PARTIAL_RUN = 8
_GRAM, _STRIDE = 5, 4  # _GRAM + _STRIDE - 1 <= the shortest form: every occurrence covers a sampled gram
_SAMPLES = re.compile(f"(?=(.{{{_GRAM}}})).{{{_STRIDE}}}", re.DOTALL)
# What json.dumps(ensure_ascii=False) writes differently from the character itself.
_JSON_ESCAPED = re.compile('["\\\\\x00-\x1f]')
# Names casebridge itself prints: a run of a secret that is part of one of these is not redacted
# (a sandbox key such as "sandbox-commcare-key" must not blank the word "commcare" everywhere).
PUBLIC_WORDS = ("casebridge", "clearinghouse", "commcare", "certn", "sandbox")


class Redactor:
    """Replaces every known secret value, in any of its common encodings, with ``[redacted]``.

    For each secret of at least ``MIN_ENCODED`` characters it matches, in any letter case: the
    value, its URL encodings (``quote`` and ``quote_plus``), base64 and base64url (with and without
    padding, and the part of it that is the same at each of the three byte alignments inside a
    longer base64 text), and hex. For secrets of ``MIN_PARTIAL`` characters or more, any run of at
    least ``PARTIAL_RUN`` consecutive characters of the value too, unless the run overlaps a
    ``public`` text (names and identifiers that are not secret, such as a user name).
    """

    def __init__(self, secrets: Iterable[str | None], *, public: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if s and len(s) >= MIN_SECRET}, key=len, reverse=True)
        self._public = [p.lower() for p in (*PUBLIC_WORDS, *public) if p]
        self._pattern: re.Pattern[str] | None = None
        self._grams: frozenset[str] = frozenset()
        self._short: tuple[str, ...] = ()  # forms shorter than MIN_ENCODED, looked for whole
        # A lower-cased run -> the lower-cased secrets it comes from, and where in them it starts.
        self._runs: dict[str, list[tuple[str, int]]] = {}
        self._json_plain = False  # no form holds a character JSON escapes (set with the pattern)

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def __call__(self, text: str) -> str:
        if not self._secrets or not text:
            return text
        pattern = self._compiled()
        low = text.lower()
        # lower() may lengthen a few non-ASCII characters; then the sampled positions do not line up.
        if (
            len(low) == len(text)
            and not any(s in low for s in self._short)
            and self._grams.isdisjoint(_SAMPLES.findall(low))
        ):
            return text
        match = pattern.search(text)
        if match is None:
            return text
        out: list[str] = []
        pos = 0
        while match is not None:
            start, end = match.span()
            end = self._extend(text, match.group().lower(), end)
            out.append(text[pos:start])
            out.append(REDACTED)
            pos = end
            match = pattern.search(text, pos)
        out.append(text[pos:])
        return "".join(out)

    def value(self, data: Any) -> Any:
        """``data`` (JSON-like: dicts, lists, tuples, strings) with every string redacted, keys too."""
        if not self._secrets:
            return data
        if isinstance(data, str):
            return self(data)
        if isinstance(data, dict | list | tuple) and self._whole_text_proves(data):
            return data
        return self._walk(data)

    def _whole_text_proves(self, data: Any) -> bool:
        """True when ``data``'s JSON text holds no secret, which proves every string in it clean.

        JSON writes a string as it is unless it holds a quote, a backslash or a control character; no form
        of a secret holds one (else this is not tried), so any string holding a form shows it in the text.
        A match across strings only sends the caller the string-by-string way.
        """
        self._compiled()
        if not self._json_plain:
            return False
        text = json.dumps(data, ensure_ascii=False, default=str)
        return self(text) is text

    def _walk(self, data: Any) -> Any:
        if isinstance(data, str):
            return self(data)
        if isinstance(data, dict):
            return {self(k) if isinstance(k, str) else k: self._walk(v) for k, v in data.items()}
        if isinstance(data, list):
            return [self._walk(v) for v in data]
        if isinstance(data, tuple):
            return tuple(self._walk(v) for v in data)
        return data

    def _compiled(self) -> re.Pattern[str]:
        if self._pattern is None:
            forms: set[str] = set()
            for secret in self._secrets:
                forms.update(f.lower() for f in _forms(secret))
                if len(secret) >= MIN_PARTIAL:
                    low = secret.lower()
                    private = _blank(low, self._public)
                    for i in range(len(low) - PARTIAL_RUN + 1):
                        if "\0" in private[i : i + PARTIAL_RUN]:
                            continue  # overlaps a public word: "ebridge_" of "sk_casebridge_..." is no echo
                        run = low[i : i + PARTIAL_RUN]
                        forms.add(run)
                        self._runs.setdefault(run, []).append((low, i))
            self._short = tuple(f for f in forms if len(f) < MIN_ENCODED)
            self._json_plain = not any(_JSON_ESCAPED.search(f) for f in forms)
            self._grams = frozenset(
                f[i : i + _GRAM] for f in forms if len(f) >= MIN_ENCODED for i in _window(f, self._public)
            )
            self._pattern = re.compile(_trie(forms), re.IGNORECASE)
        return self._pattern

    def _extend(self, text: str, found: str, end: int) -> int:
        """Where a partial echo that starts with ``found`` ends: as far as the text follows the secret."""
        best = end
        for secret, at in self._runs.get(found, ()):
            i, j = end, at + len(found)
            while i < len(text) and j < len(secret) and text[i].lower() == secret[j]:
                i, j = i + 1, j + 1
            best = max(best, i)
        return best


def _window(form: str, public: list[str]) -> range:
    """The offsets of the grams sampled for ``form``: any _STRIDE consecutive ones catch each occurrence.

    The last ones (the most distinctive part of a "user:key" form) whose grams lie in no public word:
    results name those words all the time ("sandbox" in a sandbox banner), and a sampled gram inside one
    would send every such text to the regex. When every window touches one, the last.
    """
    last = len(form) - _GRAM - _STRIDE + 1
    for start in range(last, -1, -1):
        if not any(form[i : i + _GRAM] in word for i in range(start, start + _STRIDE) for word in public):
            return range(start, start + _STRIDE)
    return range(last, last + _STRIDE)


def _blank(text: str, words: Iterable[str]) -> str:
    """``text`` with every occurrence of each of ``words`` overwritten by NULs (same length)."""
    for word in words:
        if word:
            text = text.replace(word, "\0" * len(word))
    return text


def _forms(secret: str) -> set[str]:
    """The value and, when long enough, its common encodings."""
    forms = {secret}
    if len(secret) < MIN_ENCODED:
        return forms
    raw = secret.encode()
    forms.update({quote(secret), quote(secret, safe=""), quote_plus(secret), quote_plus(secret, safe=""), raw.hex()})
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        full = encode(raw).decode()
        forms.update({full, full.rstrip("=")})
        for shift in (1, 2):
            # Inside a longer base64 text the secret starts at one of three byte alignments; keep the
            # characters whose 6 bits all come from the secret.
            text = encode(b"\0" * shift + raw).decode().rstrip("=")
            first = -(-8 * shift // 6)
            last = (8 * (shift + len(raw))) // 6
            forms.add(text[first:last])
        forms.add(full[: (8 * len(raw)) // 6])
    return {f for f in forms if len(f) >= MIN_SECRET}


def _trie(words: Iterable[str]) -> str:
    """One regex matching any of ``words``, longest first, factored by common prefixes."""
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}
    return _branch(root)


def _branch(node: dict[str, Any]) -> str:
    alternatives = []
    for ch, child in sorted(node.items()):
        if not ch:
            continue
        chain = [ch]
        # Runs of single children (most of a long secret) become one literal, not one level each.
        while len(child) == 1 and "" not in child:
            ((ch, child),) = child.items()
            chain.append(ch)
        alternatives.append(re.escape("".join(chain)) + _branch(child))
    if not alternatives:
        return ""
    body = alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"
    return f"(?:{body})?" if "" in node else body
