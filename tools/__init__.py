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
    if not registry.read_only and "certn" in registry.sources and registry.ledger is not None:
        from tools import cancel_case, generate_report, order_case

        order_case.register(server, registry)
        cancel_case.register(server, registry)
        generate_report.register(server, registry)

    from tools import prompts

    prompts.register(server, registry)
