"""Schema compaction drops titles and null branches, and nothing that carries meaning."""

from __future__ import annotations

from casebridge.server.schema import compact_schema


def test_compaction_keeps_meaning() -> None:
    schema = {
        "title": "Args",
        "type": "object",
        "properties": {
            "title": {"title": "Title", "type": "string", "description": "a property named title"},
            "cursor": {"anyOf": [{"type": "string", "maxLength": 9}, {"type": "null"}], "default": None, "title": "C"},
            "limit": {"type": "integer", "default": 10, "minimum": 1},
            "either": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        },
        "required": ["title"],
    }
    out = compact_schema(schema)
    assert out == {
        "type": "object",
        "properties": {
            "title": {"type": "string", "description": "a property named title"},
            "cursor": {"type": "string", "maxLength": 9},
            "limit": {"type": "integer", "default": 10, "minimum": 1},
            "either": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        },
        "required": ["title"],
    }
