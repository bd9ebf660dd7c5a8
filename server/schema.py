"""Tool JSON schemas trimmed for the model's context: same meaning, fewer tokens.

pydantic emits a ``title`` on every property and ``anyOf: [X, {"type": "null"}]`` for each
optional field. Neither helps a model choose arguments; removing them cuts ``tools/list`` by about
a third. Validation is untouched: it runs on the pydantic models, which still accept null.
A ``$defs`` entry used once (and not recursive) is written in place of its ``$ref``: same schema,
about 5% fewer ``tools/list`` tokens, and a client validating results with ``jsonschema`` (the
Python SDK's does) checks a 50-case page about 15% faster, with no ``$ref`` to resolve per case.
"""

from __future__ import annotations

from typing import Any

_NULL = {"type": "null"}


def compact_schema(schema: dict[str, Any]) -> dict[str, Any]:
    out = _compact(schema)
    assert isinstance(out, dict)
    return _inline_single_use_defs(out)


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


# Keywords whose values are instance data, never schemas: a "$ref" inside them is not a reference.
_DATA_KEYWORDS = frozenset({"default", "examples", "const", "enum"})
_DEFS_PREFIX = "#/$defs/"


def _refs(node: Any, key: str | None = None) -> list[str]:
    """Every ``$ref`` value under ``node``, outside instance data."""
    if isinstance(node, list):
        return [r for n in node for r in _refs(n)]
    if not isinstance(node, dict) or key in _DATA_KEYWORDS:
        return []
    found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
    for k, v in node.items():
        # Under "properties" the keys are property names; their values are schemas.
        found.extend(_refs(v, None if key == "properties" else k))
    return found


def _inline_single_use_defs(schema: dict[str, Any]) -> dict[str, Any]:
    defs = schema.get("$defs")
    if not isinstance(defs, dict):
        return schema
    refs = _refs(schema)
    # Only definitions referenced exactly once and referencing nothing themselves (so never recursive).
    inline = {
        name: body
        for name, body in defs.items()
        if refs.count(_DEFS_PREFIX + name) == 1 and isinstance(body, dict) and not _refs(body)
    }
    if not inline:
        return schema

    def replace(node: Any, key: str | None = None) -> Any:
        if isinstance(node, list):
            return [replace(n) for n in node]
        if not isinstance(node, dict) or key in _DATA_KEYWORDS:
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.removeprefix(_DEFS_PREFIX) in inline and ref.startswith(_DEFS_PREFIX):
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            return {**inline[ref.removeprefix(_DEFS_PREFIX)], **siblings}  # the use site's description wins
        return {k: replace(v, None if key == "properties" else k) for k, v in node.items()}

    out = replace({k: v for k, v in schema.items() if k != "$defs"})
    rest = {name: replace(body) for name, body in defs.items() if name not in inline}  # their refs too
    if rest:
        out["$defs"] = rest
    assert isinstance(out, dict)
    return out


def header_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` cut down to what the SDK's ``Mcp-Param-*`` header check reads: the properties
    annotated ``x-mcp-header``, on their ``properties`` paths. The check gives the same verdicts
    on both, but walks the whole schema it is given on every HTTP ``tools/call``.
    """
    from mcp.shared.inbound import find_invalid_x_mcp_header, x_mcp_header_map

    if find_invalid_x_mcp_header(schema) is not None:
        return schema  # the SDK ignores such a schema; keep its own verdict
    out: dict[str, Any] = {"type": "object"}
    for path in x_mcp_header_map(schema):
        node, target = schema, out
        for name in path:
            node = node["properties"][name]
            target = target.setdefault("properties", {}).setdefault(name, {})
        target.update(node)
    return out
