"""The MCP tools: input and output schemas, handlers and descriptions, one module per tool."""
