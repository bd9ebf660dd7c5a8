"""``casebridge ledger``: the ledger's recent entries as a table on stdout."""

from __future__ import annotations

import sys


def print_ledger(limit: int, env_file: str | None = None, *, user: str | None = None) -> int:
    """``casebridge ledger``: the ledger's recent entries as a table on stdout (never used by the server).

    Every cell is escaped for the terminal (``server.terminal``): rows quote e-mails and provider errors.
    The ledger is the one the server would use: PostgreSQL when ``CASEBRIDGE_DATABASE_URL`` is set.
    """
    from casebridge.server.ledger import format_table, open_ledger
    from casebridge.server.settings import load_settings
    from casebridge.server.terminal import printable
    from casebridge.tools.actions import LedgerError

    out = sys.stdout  # this subcommand's output; the MCP server itself never writes here
    try:
        settings = load_settings(env_file)
        ledger = open_ledger(settings, secrets=settings.secret_values())
        where = printable(ledger.where)
        if not ledger.exists():
            out.write(f"No ledger yet at {where}: nothing has been ordered, cancelled or requested.\n")
            return 0
        try:
            table = format_table(ledger.recent(max(1, limit), caller=user))
        finally:
            ledger.close()
    except LedgerError as exc:
        sys.stderr.write(f"casebridge: {printable(str(exc))}\n")
        return 2
    whose = f" (user {printable(user)})" if user is not None else ""
    out.write(f"Ledger: {where}{whose}\n{table}\n")
    return 0
