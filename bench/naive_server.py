"""The naive peer: the server a user would write instead of casebridge, one tool returning the provider's raw JSON.

Written the obvious way on purpose (no fencing, masking, redaction, budget or retries): the bench's baseline.
Configured from the same variables as casebridge; stdio, or Streamable HTTP with ``--http PORT``.
"""

import os
import sys
from typing import Any

import httpx2 as httpx
from mcp.server import MCPServer

server = MCPServer("naive", log_level="WARNING")  # casebridge's level: logging is not what is compared
env = os.environ.get

PATHS = {
    "clearinghouse": "cases/",
    "commcare": f"a/{env('COMMCARE_DOMAIN', '')}/api/case/v2/",
    "certn": "api/public/cases/",
}
CLIENTS = {
    "clearinghouse": httpx.AsyncClient(
        base_url=env("CLEARINGHOUSE_BASE_URL", "") + "/",
        headers={"Authorization": f"Token {env('CLEARINGHOUSE_API_TOKEN', '')}"},
    ),
    "commcare": httpx.AsyncClient(
        base_url=env("COMMCARE_BASE_URL", ""),
        headers={"Authorization": f"ApiKey {env('COMMCARE_USERNAME', '')}:{env('COMMCARE_API_KEY', '')}"},
    ),
    "certn": httpx.AsyncClient(
        base_url=env("CERTN_BASE_URL", ""),
        headers={"Authorization": f"Api-Key {env('CERTN_API_KEY', '')}"},
    ),
}


@server.tool()
async def search_cases(provider: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Search one provider's cases; ``params`` are its query parameters. Returns the provider's JSON."""
    response = await CLIENTS[provider].get(PATHS[provider], params=params)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run("stdio")
