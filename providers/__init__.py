"""Provider clients, vocabularies and emulators for the services casebridge reads and acts on.

Nothing here knows about MCP: the tools layer turns these typed calls into tool results.
"""

__version__ = "0.1.0"
