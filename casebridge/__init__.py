"""casebridge: the MCP server for case lookup, installed under one import name.

``casebridge.server``, ``casebridge.tools`` and ``casebridge.providers`` are the repository's top-level
``server/``, ``tools/`` and ``providers/`` folders (links here, real folders in the wheel), so an
installed casebridge never shadows a ``server`` or ``tools`` package of someone else's.
"""
