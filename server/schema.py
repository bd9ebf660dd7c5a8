"""Tool JSON schemas trimmed for the model's context: same meaning, fewer tokens.

pydantic emits a ``title`` on every property and ``anyOf: [X, {"type": "null"}]`` for each
optional field. Neither helps a model choose arguments; removing them cuts ``tools/list`` by about
a third. Validation is untouched: it runs on the pydantic models, which still accept null.
"""

from __future__ import annotations

from typing import Any

_NULL = {"type": "null"}


def compact_schema(schema: dict[str, Any]) -> dict[str, Any]:
    out = _compact(schema)
    assert isinstance(out, dict)
    return out


def _compact(node: Any, *, key: str | None = None) -> Any:
    if isinstance(node, list):
        return [_compact(n) for n in node]
    if not isinstance(node, dict):
        return node
    if key == "properties":
        # Keys here are property names (a property may be called "title"); compact each value.
        return {name: _compact(value) for name, value in node.items()}
    out: dict[str, Any] = {}
    for k, v in node.items():
        if k == "title":
            continue
        if k == "default" and v is None:
            continue
        out[k] = _compact(v, key=k)
    any_of = out.get("anyOf")
    if isinstance(any_of, list) and _NULL in any_of and len(any_of) == 2:
        (other,) = [branch for branch in any_of if branch != _NULL]
        del out["anyOf"]
        merged = {**other, **out}
        return merged
    return out
