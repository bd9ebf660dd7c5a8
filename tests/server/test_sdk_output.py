"""The SDK adapter (server/sdk_output.py): fails loudly when the SDK's output handling changes under it."""

from __future__ import annotations

from typing import Annotated

import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel

from casebridge.server.app import CasebridgeServer
from casebridge.server.sdk_output import publish_without_revalidation


class Out(BaseModel):
    n: int


def _server() -> MCPServer:
    server = MCPServer("t")

    async def wrong() -> Annotated[CallToolResult, Out]:
        return CallToolResult(content=[TextContent(type="text", text="x")], structured_content={"n": "not a number"})

    async def plain() -> Out:
        return Out(n=1)

    server.add_tool(wrong)
    server.add_tool(plain)
    return server


async def test_the_sdk_validates_before_and_not_after_while_the_schema_stays_published() -> None:
    server = _server()
    schemas = {t.name: t.output_schema for t in await server.list_tools()}
    with pytest.raises(Exception, match="Error executing tool wrong") as raised:  # the SDK's own check
        await server.call_tool("wrong", {})
    assert "validation error" in str(raised.value.__cause__)

    assert publish_without_revalidation(server) == ["wrong"]  # a tool returning a model keeps its model

    result = await server.call_tool("wrong", {})
    assert isinstance(result, CallToolResult) and result.structured_content == {"n": "not a number"}
    assert {t.name: t.output_schema for t in await server.list_tools()} == schemas
    plain = await server.call_tool("plain", {})
    assert isinstance(plain, CallToolResult) and plain.structured_content == {"n": 1}


async def test_every_casebridge_tool_is_adapted_and_its_results_still_match_the_schema_client_side(
    server: CasebridgeServer,
) -> None:
    tools = server._tool_manager.list_tools()
    assert tools and all(t.fn_metadata.output_model is None for t in tools)
    assert all(t.fn_metadata.output_schema is not None for t in tools)
    async with Client(server) as client:  # the SDK client checks structuredContent against outputSchema
        result = await client.call_tool("search_cases", {"provider": "commcare", "limit": 3})
        assert not result.is_error and len(result.structured_content["cases"]) == 3  # type: ignore[index]
