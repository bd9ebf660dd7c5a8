"""casebridge: the MCP server for case lookup, installed under one import name.

``casebridge.server``, ``.tools``, ``.providers`` and ``.sandbox`` are the repository's top-level
``server/``, ``tools/``, ``providers/`` and ``sandbox/`` folders (links here, real folders in the wheel), so an
installed casebridge never shadows a ``server`` or ``tools`` package of someone else's.
"""
