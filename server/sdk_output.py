"""The one adapter on the SDK's internals: output schemas published without re-validation; cut-down header schemas.

Both save per-call work the SDK does for nothing here (bench/, concurrency), and both reach past ``MCPServer``'s
public surface (``_tool_manager``, ``_lowlevel_server``), which is why ``mcp`` is pinned below the next minor
release in pyproject.toml. tests/server/test_sdk_output.py fails when the SDK changes under either.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any

from mcp.server import MCPServer
from mcp.types import CallToolResult


def publish_without_revalidation(server: MCPServer[Any]) -> list[str]:
    """Drop the output model (keeping the published schema) of each tool that returns a ``CallToolResult``.

    Every casebridge tool returns ``Annotated[CallToolResult, Model]`` whose structured part is ``Model.model_dump``
    itself, so the SDK's second check of it (``FuncMetadata.convert_result``, ~0.15 ms a call) proves nothing new;
    clients still check it against the published schema. The SDK documents both halves: a ``FuncMetadata`` with a
    schema and no model is "advertised but not validated", and its fields "are read live". Returns the names of
    the tools changed.
    """
    changed = []
    for tool in server._tool_manager.list_tools():
        meta = tool.fn_metadata
        if meta.output_schema is None or meta.output_model is None or not _returns_call_tool_result(tool.fn):
            continue
        meta.output_model = None
        changed.append(tool.name)
    return changed


def cut_header_schemas(server: MCPServer[Any], cut: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Hand the SDK's ``Mcp-Param-*`` header check ``cut(schema)`` instead of a tool's whole input schema.

    On every 2026-era HTTP ``tools/call`` the SDK walks the schema that the low-level server's public
    ``get_tool_input_schema`` hook returns (``MCPServer`` sets it to its private ``_tool_input_schema``):
    ~0.5 ms a call for search_cases' whole input schema. ``cut`` keeps what the check reads; its result is
    cached per schema object, so a re-registered tool is cut again.
    """
    lowlevel = server._lowlevel_server
    full_schema = lowlevel.get_tool_input_schema
    if full_schema is None:
        raise RuntimeError("the SDK no longer hands MCPServer's tool schemas to its header check (sdk_output)")
    cache: dict[str, tuple[Mapping[str, Any], dict[str, Any]]] = {}

    def header_check_schema(name: str) -> dict[str, Any] | None:
        full = full_schema(name)
        if full is None:
            return None
        hit = cache.get(name)
        if hit is None or hit[0] is not full:
            hit = cache[name] = (full, cut(dict(full)))
        return hit[1]

    lowlevel.get_tool_input_schema = header_check_schema


def _returns_call_tool_result(fn: Any) -> bool:
    try:
        annotation = inspect.signature(fn, eval_str=True).return_annotation
    except (NameError, TypeError, ValueError):
        return False
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation is CallToolResult
