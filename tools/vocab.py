"""Enumerated provider values that accept the id or the label, in any letter case.

An unknown value is refused with the nearest valid labels, so the model can correct itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

K = TypeVar("K", int, str)

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def _norm(text: str) -> str:
    return _NON_ALNUM.sub(" ", text.lower()).strip()


class Vocabulary(Generic[K]):
    """An id <-> label table with forgiving lookup."""

    def __init__(self, name: str, table: Mapping[K, str], aliases: Mapping[str, K] | None = None) -> None:
        self.name = name
        self.table: dict[K, str] = dict(table)
        self._index: dict[str, K] = {}
        for key, label in self.table.items():
            self._index.setdefault(_norm(label), key)
            self._index.setdefault(_norm(str(key)), key)
        for alias, key in (aliases or {}).items():
            self._index.setdefault(_norm(alias), key)

    @property
    def labels(self) -> list[str]:
        return list(self.table.values())

    def label(self, key: K) -> str:
        return self.table.get(key, str(key))

    def resolve(self, value: object) -> K:
        """The id for ``value`` (id, numeric string or label); ``ValueError`` naming near labels."""
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValueError(f"expected a {self.name} label or id, got {type(value).__name__}")
        text = str(value)
        if len(text) > 200:
            raise ValueError(f"{self.name} value is too long to be a label")
        key = self._index.get(_norm(text))
        if key is not None:
            return key
        import difflib  # here, not at module level: only a value that matches nothing needs it

        nearest = difflib.get_close_matches(_norm(text), [_norm(lbl) for lbl in self.labels], n=3, cutoff=0.4)
        by_norm = {_norm(lbl): lbl for lbl in self.labels}
        suggestions = [by_norm[n] for n in nearest]
        if not suggestions:
            suggestions = self.labels[:3]
        hint = ", ".join(repr(s) for s in suggestions)
        raise ValueError(f"unknown {self.name} {text[:60]!r}; nearest valid labels: {hint}")

    def field(self, description: str, *, list_labels: bool = True) -> LabelOrId:
        """Metadata for ``Annotated[int, vocab.field("...")]``: validated to the id, schema'd as a string."""
        desc = description
        if list_labels:
            desc += " One of: " + "; ".join(self.labels) + "."
        return LabelOrId(self.resolve, desc)


class LabelOrId:
    """pydantic metadata: run ``resolve`` before validation; publish a plain string schema."""

    def __init__(self, resolve: Callable[[object], object], description: str) -> None:
        self.resolve = resolve
        self.description = description

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_before_validator_function(self.resolve, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"type": "string", "description": self.description}
