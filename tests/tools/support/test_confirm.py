"""The shared confirmation flow and claim loop (tools/support/confirm.py, claims.py) on a real SQLite ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp.server.elicitation import AcceptedElicitation, CancelledElicitation, DeclinedElicitation

from casebridge.server.ledger import OrderLedger
from casebridge.tools import consent
from casebridge.tools.actions import ActionSettings, Entry
from casebridge.tools.errors import ToolFailure
from casebridge.tools.support.claims import Claiming, Wording
from casebridge.tools.support.confirm import Confirming, Purpose

KEY = "k" * 64
WORDS = Wording("certn", "order placed", "order is being placed", "ordered nothing", "arguments")
PURPOSE = Purpose("order_case", "order", "Nothing was ordered", "Quote again.")
NOT_ASKED = AcceptedElicitation(data=consent.NotAsked())


def confirming(ledger: OrderLedger, answer: Any = NOT_ASKED, **settings: Any) -> Confirming:
    def entry(outcome: str, provider_id: str | None = None, **detail: Any) -> Entry:
        return Entry("order_case", outcome, {"order": 1}, "certn", provider_id, KEY, detail)

    return Confirming.of(answer, PURPOSE, ledger, ActionSettings(**settings), entry)


def outcomes(ledger: OrderLedger) -> list[tuple[str, Any]]:
    return [(r.outcome, r.entry.detail.get("note")) for r in ledger.rows(KEY)]


@pytest.mark.parametrize(
    ("answer", "flow"),
    [
        (DeclinedElicitation(), "declined"),
        (CancelledElicitation(), "cancelled"),
        (AcceptedElicitation(data=consent.Confirm(confirm=False)), "declined"),
    ],
)
async def test_an_answer_that_is_not_yes_does_nothing_and_is_recorded(tmp_path: Path, answer: Any, flow: str) -> None:
    ledger = OrderLedger(tmp_path)
    c = confirming(ledger, answer)
    assert c.not_given and c.flow == flow
    assert await c.record_not_given() == f"Nothing was ordered: the user {flow} the confirmation."
    assert outcomes(ledger) == [("declined", f"user {flow}")]


async def test_a_quoted_token_confirms_once(tmp_path: Path) -> None:
    ledger = OrderLedger(tmp_path)
    c = confirming(ledger)
    assert not c.not_given and c.flow == "token"
    quote = await c.quote({"order": "exact body"})
    nonce = await c.nonce(None, quote.token, {"order": "exact body"})  # type: ignore[arg-type]  # token flow: no ctx
    await c.use(nonce)
    with pytest.raises(consent.ConfirmationRefused, match="already used") as refused:
        await c.use(nonce)
    assert refused.value.fix == "Quote again."
    assert outcomes(ledger) == [("quoted", None), ("not_confirmed", "replayed")]


async def test_a_token_for_another_request_is_refused_and_recorded(tmp_path: Path) -> None:
    ledger = OrderLedger(tmp_path)
    c = confirming(ledger)
    quote = await c.quote({"order": "one"})
    with pytest.raises(consent.ConfirmationRefused, match="differs from the one the user confirmed"):
        await c.nonce(None, quote.token, {"order": "another"})  # type: ignore[arg-type]
    assert outcomes(ledger) == [("quoted", None), ("not_confirmed", "mismatch")]


def test_an_accepted_answer_replayed_is_refused_in_its_own_words(tmp_path: Path) -> None:
    c = confirming(OrderLedger(tmp_path), AcceptedElicitation(data=consent.Confirm(confirm=True)))
    assert c.flow == "accepted"
    assert "Call order_case again as a new call" in str(c.replayed().fix)


async def test_claiming_gets_the_claim_then_finds_an_identical_one_in_flight(tmp_path: Path) -> None:
    ledger = OrderLedger(tmp_path)
    first = await Claiming(confirming(ledger), "nonce-1", WORDS).next()
    assert first.status == "claimed" and first.row is not None
    waiting = Claiming(confirming(ledger, inflight_wait=0.0, poll_interval=0.01), "nonce-2", WORDS)
    with pytest.raises(ToolFailure) as busy:
        await waiting.next()
    assert busy.value.category == "provider_unavailable" and busy.value.retryable
    assert busy.value.message == "an identical order is being placed right now; this call ordered nothing"
    assert busy.value.fix == "Call again with the same arguments in a few seconds to get its result."
    assert waiting.waited == first.row.id


async def test_claiming_returns_an_identical_order_done(tmp_path: Path) -> None:
    ledger = OrderLedger(tmp_path)
    c = confirming(ledger)
    ledger.append(c.entry("ordered", "case-1"))
    done = await Claiming(c, "nonce-1", WORDS).next()
    assert done.status == "done" and done.row is not None and done.row.entry.provider_id == "case-1"


async def test_claiming_with_a_used_nonce_is_refused_as_replayed(tmp_path: Path) -> None:
    ledger = OrderLedger(tmp_path)
    c = confirming(ledger)
    ledger.consume("nonce-1")
    with pytest.raises(consent.ConfirmationRefused, match="already used"):
        await Claiming(c, "nonce-1", WORDS).next()
    assert outcomes(ledger)[-1] == ("not_confirmed", "replayed")
