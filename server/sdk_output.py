"""The one adapter on the SDK's internals: tools' output schemas published without the server-side re-validation.

Every casebridge tool returns ``Annotated[CallToolResult, Model]`` whose structured part is ``Model.model_dump``
itself, so the SDK's second check of it (``FuncMetadata.convert_result``, ~0.15 ms a call) proves nothing new;
clients still check it against the published schema. tests/server/test_sdk_output.py fails when the SDK changes.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

from mcp.server import MCPServer
from mcp.types import CallToolResult


def publish_without_revalidation(server: MCPServer[Any]) -> list[str]:
    """Drop the output model (keeping the published schema) of each tool that returns a ``CallToolResult``.

    The SDK documents both halves: a ``FuncMetadata`` with a schema and no model is "advertised but not
    validated", and its fields "are read live". Returns the names of the tools changed.
    """
    changed = []
    for tool in server._tool_manager.list_tools():
        meta = tool.fn_metadata
        if meta.output_schema is None or meta.output_model is None or not _returns_call_tool_result(tool.fn):
            continue
        meta.output_model = None
        changed.append(tool.name)
    return changed


def _returns_call_tool_result(fn: Any) -> bool:
    try:
        annotation = inspect.signature(fn, eval_str=True).return_annotation
    except (NameError, TypeError, ValueError):
        return False
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation is CallToolResult
