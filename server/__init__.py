"""The casebridge process: command line, settings, MCP server wiring and transports."""
