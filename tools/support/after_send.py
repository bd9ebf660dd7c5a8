"""Failures after a write may have reached Certn: reported as "may have been placed", never as "nothing changed".

Such a failure must not invite a second, different order that deduplication would not catch.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio.to_thread

from casebridge.providers.errors import ProviderError
from casebridge.tools.actions import ActionLedger, Entry, LedgerError
from casebridge.tools.errors import ToolFailure

log = logging.getLogger("casebridge.orders")

CATEGORY = "may_have_been_placed"
ORDER_ADVICE = (
    "may have been placed: do not order again another way; call again with the same arguments and casebridge "
    "will find it"
)
CANCEL_ADVICE = (
    "may have been placed: do not cancel another way; call again with the same ref and casebridge will find "
    "out whether it went through"
)
ORDER_FIX = (
    "Do not order it another way. Call order_case again with the same arguments (the user confirms again): "
    "casebridge looks for the case first and only orders if it does not exist."
)
CANCEL_FIX = "Do not cancel it another way. Call cancel_case again with the same ref: it reads the case first."
EARLIER_ATTEMPT = "an earlier attempt of this order may have been placed; casebridge will look for it before ordering"


def may_have_been_placed(what: str, cause: ProviderError | None = None, *, cancel: bool = False) -> ToolFailure:
    """``what`` happened after the request may have left; ``cause`` is the provider error behind it, if any."""
    if cancel:
        subject, advice, fix = "The cancellation", CANCEL_ADVICE, CANCEL_FIX
    else:
        subject, advice, fix = "The order", ORDER_ADVICE, ORDER_FIX
    message = f"{subject} {advice}. {what}"
    kw: dict[str, Any] = {"retryable": True, "retry_after_seconds": 30, "fix": fix}
    if cause is not None:
        return ToolFailure.citing(cause, CATEGORY, message, **kw)
    return ToolFailure(CATEGORY, message, provider="certn", **kw)


async def record(ledger: ActionLedger, entry: Entry) -> bool:
    """Append ``entry``; False (logged) when the ledger cannot take it. For rows written after a send,
    where a ledger failure must not hide what may have happened at Certn."""
    try:
        await anyio.to_thread.run_sync(ledger.append, entry)
    except LedgerError as exc:
        log.error("ledger: could not record %s %s after sending: %s", entry.tool, entry.outcome, exc)
        return False
    return True
