"""The confirmation flow the write tools share: the user's answer, the quote and its token, the nonce used up.

The user either answered an elicitation (``accepted``, ``declined``, ``cancelled``) or was not asked
(``token``): then the first call quotes and the second brings the token back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Context

from casebridge.tools import consent
from casebridge.tools.actions import ActionLedger, ActionSettings, Entry, off_loop
from casebridge.tools.support import elicited

if TYPE_CHECKING:
    from casebridge.tools.errors import ToolFailure

EntryFn = Callable[..., Entry]
NOT_GIVEN = ("declined", "cancelled", "other")


@dataclass(frozen=True)
class Purpose:
    """What one write tool confirms: ``purpose`` names its tokens ("order", "cancel", "update"); ``nothing``
    ("Nothing was ordered") starts every refusal; ``requote`` says how to get a new token."""

    tool: str
    purpose: str
    nothing: str
    requote: str


@dataclass
class Confirming:
    """One call of a write tool confirming its ``purpose``; ``entry`` makes the call's ledger rows."""

    what: Purpose
    ledger: ActionLedger
    settings: ActionSettings
    entry: EntryFn
    flow: str  # consent.answer: accepted, declined, cancelled, other or token

    @classmethod
    def of(
        cls,
        answer: ElicitationResult[consent.Confirm],
        what: Purpose,
        ledger: ActionLedger,
        settings: ActionSettings,
        entry: EntryFn,
    ) -> Confirming:
        return cls(what, ledger, settings, entry, consent.answer(answer))

    @property
    def nothing(self) -> str:
        return self.what.nothing

    @property
    def not_given(self) -> bool:
        """The user declined or cancelled the question (or answered something else): nothing is done."""
        return self.flow in NOT_GIVEN

    async def record_not_given(self) -> str:
        """Record the answer; the head line of the result that says nothing was done."""
        await off_loop(self.ledger.append, self.entry("declined", note=f"user {self.flow}"))
        return f"{self.nothing}: the user {self.flow} the confirmation."

    async def quote(self, subject: Any) -> consent.Quote:
        """A confirmation token for ``subject``, recorded as quoted."""
        quote = await off_loop(consent.issue, self.ledger, self.what.purpose, subject, self.settings.confirm_ttl)
        await off_loop(self.ledger.append, self.entry("quoted", expires_at=quote.expires_at))
        return quote

    async def nonce(self, ctx: Context[Any, Any], token: str | None, subject: Any) -> str:
        """The single-use nonce of this confirmation: the verified token's, or the accepted answer's.

        A token that confirms nothing is recorded (``not_confirmed``, with the reason) and refused.
        """
        if self.flow != "token":
            return elicited.answer_nonce(ctx, self.what.purpose, subject)
        assert token is not None  # the token flow without one quotes instead
        try:
            return await off_loop(
                consent.verify,
                self.ledger,
                token,
                self.what.purpose,
                subject,
                ttl=self.settings.confirm_ttl,
                nothing=self.nothing,
                fix=self.what.requote,
            )
        except consent.ConfirmationRefused as refused:
            await off_loop(self.ledger.append, self.entry("not_confirmed", note=refused.reason))
            raise

    def replayed(self) -> ToolFailure:
        """The refusal of a confirmation that was already used, in the words of how it was given."""
        if self.flow == "token":
            return consent.replayed(self.nothing, self.what.requote)
        return elicited.replayed(self.nothing, self.what.tool)

    async def refuse_replayed(self) -> NoReturn:
        await off_loop(self.ledger.append, self.entry("not_confirmed", note="replayed"))
        raise self.replayed()

    async def use(self, nonce: str) -> None:
        """Use up ``nonce`` now (a write with no claim loop); an already used one is refused."""
        if not await off_loop(self.ledger.consume, nonce):
            await self.refuse_replayed()
