"""Fixtures of the tool tests: the write tools' own Certn emulator and a tmp ledger (see write_support)."""

from tests.tools.write_support import certn, world

__all__ = ["certn", "world"]
