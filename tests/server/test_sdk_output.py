"""The SDK adapter (server/sdk_output.py): fails loudly when the SDK changes under its output or header-schema hooks."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Mapping
from typing import Annotated, Any

import anyio
import httpx2 as httpx
import pytest
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server import MCPServer
from mcp.server.lowlevel.server import Server
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from casebridge.sandbox.emulation import free_port
from casebridge.server.app import CasebridgeServer
from casebridge.server.schema import header_schema
from casebridge.server.sdk_output import cut_header_schemas, publish_without_revalidation

MODERN = "2026-07-28"


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


# ------------------------------------------------------------------------------ header-check schemas


class Big(BaseModel):
    a: str | None = None
    b: list[int] | None = None


def _header_server() -> MCPServer:
    server = MCPServer("h")

    async def lookup(region: Annotated[str, Field(json_schema_extra={"x-mcp-header": "Region"})], big: Big) -> str:
        return region

    server.add_tool(lookup)
    return server


@contextlib.asynccontextmanager
async def _served(server: MCPServer) -> AsyncIterator[str]:
    """``server``'s Streamable HTTP app on a loopback socket (lifespan on: it runs the session manager)."""
    port = free_port()
    config = uvicorn.Config(
        server.streamable_http_app(), host="127.0.0.1", port=port, log_level="critical", lifespan="on"
    )
    http = uvicorn.Server(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(http.serve)
        with anyio.fail_after(10):
            while not http.started:  # noqa: ASYNC110 - uvicorn offers a flag, no event
                await anyio.sleep(0.01)
        try:
            yield f"http://127.0.0.1:{port}/mcp"
        finally:
            http.should_exit = True


def test_the_sdk_still_has_the_hook_and_gives_it_mcpservers_schemas() -> None:
    assert "get_tool_input_schema" in inspect.signature(Server.__init__).parameters
    server = _header_server()
    hook = server._lowlevel_server.get_tool_input_schema
    assert hook is not None and list(inspect.signature(hook).parameters) == ["name"]
    (tool,) = server._tool_manager.list_tools()
    assert hook("lookup") is tool.parameters and hook("nothing") is None


async def test_a_2026_http_tools_call_checks_its_headers_against_the_cut_down_schema() -> None:
    server = _header_server()
    cut_header_schemas(server, header_schema)
    installed = server._lowlevel_server.get_tool_input_schema
    assert installed is not None
    asked: list[tuple[str, Mapping[str, Any] | None]] = []

    def watched(name: str) -> Mapping[str, Any] | None:  # the SDK's side of the hook, observed
        schema = installed(name)
        asked.append((name, schema))
        return schema

    server._lowlevel_server.get_tool_input_schema = watched
    args = {"region": "eu", "big": {"a": "x"}}
    async with _served(server) as url:
        async with Client(streamable_http_client(url), mode=MODERN) as client:
            await client.list_tools()  # the client learns which arguments travel as headers
            result = await client.call_tool("lookup", args)
            assert not result.is_error
        assert asked, "the SDK no longer asks get_tool_input_schema on a 2026-era HTTP tools/call"
        (name, schema), *_ = asked
        assert name == "lookup" and schema is not None
        assert list(schema["properties"]) == ["region"]  # not "big", nor its $defs
        assert schema["properties"]["region"]["x-mcp-header"] == "Region" and "$defs" not in schema
        assert installed("lookup") is schema  # cut once, then cached

        # A header that contradicts its argument is refused before the tool runs: the cut schema still decides.
        body = {
            "jsonrpc": "2.0",
            "id": 7,
            "method": "tools/call",
            "params": {
                "name": "lookup",
                "arguments": args,
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": MODERN,
                    "io.modelcontextprotocol/clientCapabilities": {},
                },
            },
        }
        headers = {
            "accept": "application/json, text/event-stream",
            "mcp-protocol-version": MODERN,
            "mcp-method": "tools/call",
            "mcp-name": "lookup",
        }
        async with httpx.AsyncClient(timeout=10) as http:
            refused = await http.post(url, json=body, headers={**headers, "mcp-param-region": "us"})
            served = await http.post(url, json=body, headers={**headers, "mcp-param-region": "eu"})
        assert refused.status_code == 400, refused.text
        assert served.status_code == 200, served.text
        assert len(asked) == 3


def test_every_casebridge_tool_gets_its_cut_down_schema(server: CasebridgeServer) -> None:
    hook = server._lowlevel_server.get_tool_input_schema
    assert hook is not None
    tools = server._tool_manager.list_tools()
    assert tools and all(hook(t.name) == header_schema(t.parameters) for t in tools)
    assert hook("no_such_tool") is None
