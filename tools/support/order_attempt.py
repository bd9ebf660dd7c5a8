"""One claimed attempt of a Certn order: look first if an earlier one may have placed it, send once, never resend.

Once the POST may have left (or an earlier one may have), every failure is "may have been placed", and a
ledger that cannot record the outcome leaves "sending" the latest row.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anyio

from casebridge.providers.errors import ProviderError
from casebridge.tools.actions import ActionLedger, off_loop
from casebridge.tools.errors import ToolFailure
from casebridge.tools.sources import certn_orders
from casebridge.tools.support import after_send
from casebridge.tools.support.certn_order import NOTHING, Prepared
from casebridge.tools.support.confirm import EntryFn

if TYPE_CHECKING:
    from casebridge.providers.certn.client import CertnCase, CertnClient
    from casebridge.tools.sources.certn import CertnSource

log = logging.getLogger("casebridge.orders")


async def run(
    source: CertnSource,
    client: CertnClient,
    ledger: ActionLedger,
    order: Prepared,
    attempt: int,
    known: list[str] | None,
    entry: EntryFn,
) -> tuple[CertnCase, str | None]:
    """The case this attempt placed (or found placed), recorded as ordered, and a note for the user if any.

    ``known`` (not None) says an earlier attempt may have created the case: the ids of the applicant's
    cases before it, so a case outside them is this order's.
    """
    recovering = known is not None
    state = {"sent": False, "closed": False}

    async def close(outcome: str, provider_id: str | None = None, **detail: Any) -> bool:
        extra: dict[str, Any] = {"attempt": attempt, **detail}
        if known is not None and (outcome == "uncertain" or (outcome == "failed" and recovering)):
            extra["known"] = known  # this or an earlier attempt may have created the case: look first next time
        state["closed"] = True
        if not (state["sent"] or recovering):
            await off_loop(ledger.append, entry(outcome, provider_id, **extra))
            return True
        return await after_send.record(ledger, entry(outcome, provider_id, **extra))

    async def found_case(case: CertnCase, row_note: str | None, note: str | None) -> tuple[CertnCase, str | None]:
        """Record the case as this order's."""
        if not await close("ordered", case.id, **({"note": row_note} if row_note else {})):
            raise after_send.may_have_been_placed(
                f"Certn has {source.ref(case.id)} for it, but casebridge could not record that in its ledger"
            )
        return case, note

    try:
        if known is not None:
            # An earlier attempt was interrupted after its POST may have left: look before ordering.
            try:
                found = await client.find_new_case(order.email, known, check_types=order.checks)
            except ProviderError as exc:
                await close("failed", message=f"lookup before ordering failed: {exc.message}")
                raise after_send.may_have_been_placed(
                    "An earlier attempt was interrupted and casebridge could not check whether it went through", exc
                ) from exc
            if found is not None:
                return await found_case(
                    found,
                    "found the case of an interrupted earlier attempt",
                    "An earlier attempt of this order was interrupted; its case was found, so nothing new was ordered.",
                )
        else:
            try:
                known = await client.case_ids(order.email)
            except ProviderError as exc:
                await close("failed", message=f"not sent: {exc.message}")
                raise ToolFailure.from_provider(exc, f"{NOTHING}: Certn could not be asked") from exc
        await off_loop(ledger.append, entry("sending", attempt=attempt, known=known))
        state["sent"] = True
        cause: ProviderError | None = None
        try:
            case = await certn_orders.send(client, order.body)
        except ProviderError as exc:
            if not exc.maybe_sent:
                await close("failed", message=exc.message)
                raise ToolFailure.from_provider(exc, NOTHING) from exc
            cause, lost = exc, exc.category
        except Exception as exc:  # after sending, even an answer that breaks the parser may mean an order
            log.exception("certn order: the answer could not be handled")
            lost = f"unreadable answer: {type(exc).__name__}"
        else:
            return await found_case(case, None, None)
        log.warning("certn order: no clear answer (%s); looking the order up", lost)
        try:
            found = await client.find_new_case(order.email, known, check_types=order.checks)
        except Exception:  # a failed lookup leaves the order unknown, which is what is reported
            found = None
        if found is not None:
            return await found_case(
                found,
                f"answer lost ({lost}); case found by lookup",
                "Certn's answer was lost, so casebridge looked the order up and found the case.",
            )
        await close("uncertain", message=cause.message if cause is not None else lost)
        raise after_send.may_have_been_placed(
            "Certn did not confirm it and it was not found afterwards; it may or may not exist yet", cause
        )
    finally:
        if not state["closed"]:
            # Cancelled or crashed mid-way: leave a row that tells the next identical call what to do.
            with anyio.CancelScope(shield=True):
                outcome = "uncertain" if state["sent"] or recovering else "failed"
                detail: dict[str, Any] = {"attempt": attempt, "note": "interrupted"}
                if known is not None and outcome == "uncertain":
                    detail["known"] = known
                await after_send.record(ledger, entry(outcome, **detail))
