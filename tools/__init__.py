"""The MCP tools: input and output schemas, handlers and descriptions, one module per tool."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from casebridge.tools.registry import SourceRegistry

Registration = Callable[[], None]


def register_all(
    server: MCPServer, registry: SourceRegistry, *, defer: Callable[[Registration], None] | None = None
) -> None:
    """Register every tool this configuration offers (write tools only when allowed), then its resources and prompts.

    ``defer`` is handed the resource and prompt registrations instead of running them: a server that
    runs them when a client first asks for resources or prompts spares every session's start-up the
    schemas they generate, which answering ``tools/list`` does not need (bench/, cold start).
    """
    from casebridge.tools import get_case, prompts, search_cases

    search_cases.register(server, registry)
    get_case.register(server, registry)
    if not registry.read_only and "certn" in registry.sources and registry.ledger is not None:
        from casebridge.tools import cancel_case, generate_report, order_case

        order_case.register(server, registry)
        cancel_case.register(server, registry)
        generate_report.register(server, registry)
    if not registry.read_only and registry.commcare_writes and "commcare" in registry.sources and registry.ledger:
        from casebridge.tools import update_case

        update_case.register(server, registry)

    # Completions stay here: the handler is what puts "completions" in the server's capabilities.
    prompts.register_completions(server, registry)
    later = defer or (lambda register: register())
    later(lambda: get_case.register_resources(server, registry))
    later(lambda: prompts.register_prompts(server, registry))
