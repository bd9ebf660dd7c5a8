"""The ledger claim of a confirmed write: wait out an identical one in flight, refuse after an identical one failed."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import anyio

from casebridge.tools.actions import Claim, Row, off_loop
from casebridge.tools.errors import ToolFailure
from casebridge.tools.support.confirm import Confirming


@dataclass(frozen=True)
class Wording:
    """How a tool names its write in these refusals, e.g. ``done`` "order placed", ``doing`` "order is being
    placed", ``did_nothing`` "ordered nothing", ``same`` "arguments" (call again with the same ...)."""

    provider: str
    done: str
    doing: str
    did_nothing: str
    same: str
    failed_fix: str | None = None


@dataclass
class Claiming:
    """Claims the write ``confirming`` confirmed, with ``nonce``; ``next`` until it is claimed or found done."""

    confirming: Confirming
    nonce: str | None
    words: Wording
    waited: int | None = None  # the in-flight attempt this call waited on, if any
    give_up: float = field(init=False, default=0.0)  # monotonic deadline of the wait

    def __post_init__(self) -> None:
        self.give_up = time.monotonic() + self.confirming.settings.inflight_wait

    async def next(self) -> Claim:
        """A ``claimed`` claim (its pending row is the new attempt) or a ``done`` one (an identical write's row).

        A used-up confirmation, an identical attempt that failed, and one still in flight after the wait
        are refused here.
        """
        c, settings = self.confirming, self.confirming.settings
        while True:
            claim = await off_loop(
                c.ledger.claim,
                c.entry("pending"),
                window=settings.order_window,
                lease=settings.inflight_lease,
                nonce=self.nonce,
                after_attempt=self.waited,
            )
            if claim.status in ("claimed", "done"):
                return claim
            if claim.status == "replayed":
                await c.refuse_replayed()
            assert claim.row is not None
            if claim.status == "failed":
                raise identical_failed(
                    claim.row,
                    nothing=c.nothing,
                    done=self.words.done,
                    provider=self.words.provider,
                    fix=self.words.failed_fix,
                )
            self.waited = claim.row.entry.detail.get("attempt", claim.row.id)  # busy
            if time.monotonic() > self.give_up:
                w = self.words
                raise still_in_flight(doing=w.doing, did_nothing=w.did_nothing, provider=w.provider, same=w.same)
            await anyio.sleep(settings.poll_interval)


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
