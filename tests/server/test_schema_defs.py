"""Single-use ``$defs`` are inlined without changing meaning; the header-check schema keeps every header."""

from __future__ import annotations

from typing import Any

from mcp.shared.inbound import validate_mcp_param_headers

from casebridge.server.schema import compact_schema, header_schema


def test_single_use_non_recursive_defs_are_inlined() -> None:
    schema = {
        "type": "object",
        "$defs": {
            "Once": {
                "type": "object",
                "title": "Once",
                "description": "model",
                "properties": {"x": {"type": "string"}},
            },
            "Twice": {"type": "string"},
            "Loop": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Loop"}}},
        },
        "properties": {
            "a": {"anyOf": [{"$ref": "#/$defs/Once"}, {"type": "null"}], "default": None, "description": "use"},
            "b1": {"$ref": "#/$defs/Twice"},
            "b2": {"type": "array", "items": {"$ref": "#/$defs/Twice"}},
            "c": {"$ref": "#/$defs/Loop"},
            "$ref": {"type": "string", "default": {"$ref": "#/$defs/Once"}},  # a property name and data, not refs
        },
    }
    out = compact_schema(schema)
    assert out["properties"]["a"] == {"type": "object", "description": "use", "properties": {"x": {"type": "string"}}}
    assert out["properties"]["b1"] == {"$ref": "#/$defs/Twice"}
    assert out["properties"]["c"] == {"$ref": "#/$defs/Loop"}
    assert out["properties"]["$ref"] == {"type": "string", "default": {"$ref": "#/$defs/Once"}}
    assert set(out["$defs"]) == {"Twice", "Loop"}


def test_defs_disappear_when_all_are_inlined() -> None:
    schema = {"type": "object", "$defs": {"A": {"type": "integer"}}, "properties": {"a": {"$ref": "#/$defs/A"}}}
    assert compact_schema(schema) == {"type": "object", "properties": {"a": {"type": "integer"}}}


def test_header_schema_gives_the_same_verdicts() -> None:
    full: dict[str, Any] = {
        "type": "object",
        "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "nested": {"type": "object", "properties": {"id": {"type": "integer", "x-mcp-header": "Item"}}},
            "big": {"type": "object", "properties": {f"p{i}": {"type": "string"} for i in range(50)}},
        },
    }
    small = header_schema(full)
    assert "big" not in small["properties"]
    cases: list[tuple[dict[str, Any], dict[str, str]]] = [
        ({"region": "eu", "nested": {"id": 3}}, {"mcp-param-region": "eu", "mcp-param-item": "3"}),
        ({"region": "eu"}, {"mcp-param-region": "us"}),
        ({"region": "eu"}, {}),
        ({}, {"mcp-param-item": "3"}),
    ]
    for arguments, headers in cases:
        assert validate_mcp_param_headers(small, arguments, headers) == validate_mcp_param_headers(
            full, arguments, headers
        )
    assert header_schema({"type": "object", "properties": {"a": {"type": "string"}}}) == {"type": "object"}
