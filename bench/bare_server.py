"""The baseline server: the smallest useful ``MCPServer``, one tool, over stdio or (``--http PORT``) Streamable HTTP."""

import sys

import anyio
from mcp.server import MCPServer

server = MCPServer("bare")


@server.tool()
async def echo(text: str, delay_ms: int = 0, repeat: int = 1) -> str:
    """Return the text ``repeat`` times, after ``delay_ms`` milliseconds."""
    if delay_ms:
        await anyio.sleep(delay_ms / 1000)
    return text * repeat


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run("stdio")
