"""Checks of an order against what Certn already has: the account's groups, and an earlier order's invite flow."""

from __future__ import annotations

import uuid
from typing import Any

from casebridge.providers.errors import ProviderError
from casebridge.tools.errors import invalid
from casebridge.tools.render import fence_inline
from casebridge.tools.sources.certn import CertnSource

MAX_NAMED = 10
_USED = {
    "email_invite": "an e-mail invitation from Certn",
    "invite_link": "an invite link (Certn sent no e-mail)",
    "quickscreen": "quickscreen (no invitation)",
}
_HOW = {
    ("email_invite", "invite_link"): "Certn has already e-mailed the applicant that invitation, which they can use.",
    ("invite_link", "email_invite"): (
        "Certn did not e-mail the applicant: send them the invite link of the first order (its result, or the "
        "Certn portal)."
    ),
}


async def refuse_unknown_group(source: CertnSource, group: uuid.UUID | None) -> None:
    """``invalid_input`` naming the valid groups when ``group`` is not one of the account's, before any quote.

    When the groups cannot be listed (or there are more than casebridge reads), Certn checks it at ordering.
    """
    if group is None:
        return
    try:
        groups, complete = await source.account_groups()
    except ProviderError:
        return
    if str(group) in {g.id.lower() for g in groups} or not complete:
        return
    named = [f"{g.id.lower()} ({fence_inline(g.name or g.short_id or '-', 60)})" for g in groups[:MAX_NAMED]]
    more = f" and {len(groups) - MAX_NAMED} more" if len(groups) > MAX_NAMED else ""
    valid = f"Valid groups: {', '.join(named)}{more}." if named else "This account has no groups."
    raise invalid(
        "group",
        f"{group} is not a group of this Certn account; nothing was quoted or ordered",
        f"{valid} Leave group out, or use one of them (get_case certn:groups lists them).",
        provider="certn",
    )


def invite_change(earlier: dict[str, Any], asked: str, ref: str) -> str | None:
    """What to tell a user whose order differs from the existing ``ref`` only in its invite flow (else None)."""
    used = earlier.get("invite")
    if not isinstance(used, str) or used not in _USED or used == asked or asked not in _USED:
        return None
    how = _HOW.get((used, asked), "")
    return (
        f"The existing order {ref} used {_USED[used]}; this request asked for {_USED[asked]}, and a second "
        f"order for the same applicant and checks was not placed. {how} To have it as asked instead: cancel_case "
        f"{ref} (possible while Certn has not started its checks), then order_case again with invite: {asked}."
    ).replace("  ", " ")
