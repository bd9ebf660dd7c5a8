"""What a write tool answers when the ledger will not let it act yet: an identical change failed, or is in flight."""

from __future__ import annotations

from casebridge.tools.actions import Row
from casebridge.tools.errors import ToolFailure


def identical_failed(row: Row, *, nothing: str, done: str, provider: str, fix: str | None = None) -> ToolFailure:
    """The identical attempt this call waited on (``row``) was refused; ``done`` says what it was."""
    said = row.entry.detail.get("message") or "refused"
    return ToolFailure(
        "provider_rejected",
        f"{nothing}: an identical {done} at the same moment failed",
        provider=provider,
        fix=fix,
        provider_message=str(said),
    )


def still_in_flight(*, doing: str, did_nothing: str, provider: str, same: str) -> ToolFailure:
    """An identical attempt is still running after the wait: call again for its result."""
    return ToolFailure(
        "provider_unavailable",
        f"an identical {doing} right now; this call {did_nothing}",
        provider=provider,
        retryable=True,
        retry_after_seconds=5,
        fix=f"Call again with the same {same} in a few seconds to get its result.",
    )
