"""order_case's order, normalised: the body it sends, the quote the user confirms, its key and its ledger record."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from pydantic import Field

from casebridge.providers.certn.vocab import check_type_label
from casebridge.tools import consent
from casebridge.tools.models import Model
from casebridge.tools.sources.certn_orders import InviteFlow, OrderBody
from casebridge.tools.text import one_line

NOTHING = "Nothing was ordered"
INVITE_TEXT: dict[str, str] = {
    "email_invite": "Certn e-mails the applicant an invitation",
    "invite_link": "no e-mail; you get an invite link to send the applicant yourself",
    "quickscreen": "no invite; runs on the details supplied here",
}


class OrderQuote(Model):
    """The order exactly as it will be sent, normalised."""

    email: str
    name: str | None = None
    check_types: list[str] | None = None
    package_id: str | None = None
    invite: InviteFlow
    prefill: Annotated[list[str], Field(description="Applicant details sent to prefill the form.")]
    tags: list[str] = Field(default_factory=list)
    group: str | None = None


class Prepared:
    """A normalised order: the body to send, its quote, its idempotency key and its ledger record."""

    def __init__(self, made: OrderBody) -> None:
        self.body = made.body
        self.email = made.email
        self.checks = made.checks
        self.quote = OrderQuote(
            email=made.email,
            name=made.name,
            check_types=made.checks,
            package_id=made.package,
            invite=made.invite,
            prefill=made.prefill,
            tags=made.tags or [],
            group=made.group,
        )
        # Same applicant and same checks (or package) = same order, whatever the invite or tags.
        self.key = hashlib.sha256(consent.canonical({"certn": made.email, **made.identity}).encode()).hexdigest()
        # What the ledger keeps: who and what, but no date of birth or address (only that they were sent).
        self.record = self.quote.model_dump(mode="json", exclude_none=True)
        self.caller: str | None = None  # who asks (elicited.caller_id): one caller's token cannot confirm another's

    @property
    def subject(self) -> dict[str, Any]:
        """What a confirmation token is bound to: the exact body that will be sent, and the caller."""
        return consent.bound({"order": self.body.to_json()}, self.caller)

    def summary(self, sandbox: bool) -> str:
        q = self.quote
        who = f"{one_line(q.name, 100)} <{q.email}>" if q.name else q.email
        if q.check_types:
            what = "Checks: " + ", ".join(check_type_label(c) for c in q.check_types)
        else:
            what = f"Package: {q.package_id} (the checks saved in that Certn package)"
        lines = [
            ("[SANDBOX: synthetic, nothing real is ordered] " if sandbox else "")
            + "Order a Certn background check (Certn bills for it):",
            f"Applicant: {who}",
            what,
            f"Invite: {INVITE_TEXT[q.invite]}",
        ]
        if q.prefill:
            lines.append("Details sent: " + ", ".join(p.replace("_", " ") for p in q.prefill))
        if q.group:
            lines.append(f"Group: {q.group}")
        if q.tags:
            lines.append("Tags: " + ", ".join(one_line(t, 60) for t in q.tags))
        return "\n".join(lines)
