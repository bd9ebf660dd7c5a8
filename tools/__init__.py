"""The MCP tools: input and output schemas, handlers and descriptions, one module per tool."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from tools.registry import SourceRegistry


def register_all(server: MCPServer, registry: SourceRegistry) -> None:
    """Register every tool this configuration offers (write tools only when allowed)."""
    from tools import get_case, search_cases

    search_cases.register(server, registry)
    get_case.register(server, registry)
