"""``order_case``: order a Certn background check, only with the user's confirmation and never twice."""

# No "from __future__ import annotations": the tool signature names a local resolver, evaluated at def time.
import uuid
from typing import Annotated, Any, Literal

from mcp.server import MCPServer
from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Context, Elicit, Resolve
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from casebridge.providers.certn.client import CertnCase, CertnClient
from casebridge.tools import consent
from casebridge.tools.actions import ActionLedger, ActionSettings, Entry, off_loop
from casebridge.tools.models import CaseSummary, Model, Visible
from casebridge.tools.registry import SourceRegistry
from casebridge.tools.render import SANDBOX_BANNER, case_line, fence, tool_result
from casebridge.tools.sources.certn import CHECK_TYPE_VOCAB, CertnSource, Tag
from casebridge.tools.sources.certn_orders import Applicant, InviteFlow, order_body
from casebridge.tools.support import after_send, elicited, order_attempt
from casebridge.tools.support.certn_order import NOTHING, OrderQuote, Prepared
from casebridge.tools.support.claims import Claiming, Wording
from casebridge.tools.support.confirm import Confirming, EntryFn, Purpose
from casebridge.tools.support.existing import Existing, look
from casebridge.tools.support.order_checks import invite_change, refuse_unknown_group
from casebridge.tools.support.refs import certn_parts
from casebridge.tools.text import one_line, web_link

NAME = "order_case"
REQUOTE = (
    "Call order_case again without confirmation_token to get a new quote, show it to the user, "
    "and wait for their explicit approval."
)
CONFIRMS = Purpose(NAME, "order", NOTHING, REQUOTE)

DESCRIPTION = (
    "Order a Certn background check on one applicant (costs money). Give the applicant, the invite "
    "flow, and either check_types or package_id. The user must confirm: the client may ask them "
    "directly; otherwise the first call orders nothing and returns a quote with a confirmation_token. "
    "Show the quote to the user and wait for their explicit yes; only then call again with the same "
    "arguments plus confirmation_token. An identical order within 24 h returns the existing case."
)

ANNOTATIONS = ToolAnnotations(
    title="Order background check",
    read_only_hint=False,
    destructive_hint=False,
    idempotent_hint=False,
    open_world_hint=True,
)

FAILED_FIX = "Change the order as the message says, then ask the user to confirm again."
WORDS = Wording("certn", "order placed", "order is being placed", "ordered nothing", "arguments", FAILED_FIX)
CheckType = Annotated[str, CHECK_TYPE_VOCAB.field("Check type (code or label).")]


class OrderResult(Model):
    status: Annotated[
        Literal["confirmation_required", "ordered", "already_ordered", "not_ordered"],
        Field(description="confirmation_required: nothing ordered yet, show the quote to the user."),
    ]
    sandbox: bool
    order: OrderQuote
    case: CaseSummary | None = None
    invite_link: Annotated[str | None, Field(description="Send to the applicant (invite_link flow).")] = None
    confirmation_token: Annotated[str | None, Field(description="Only after the user approved the quote.")] = None
    expires_at: str | None = None
    notes: list[str] = Field(default_factory=list)


def register(server: MCPServer, registry: SourceRegistry) -> None:
    settings = registry.actions

    async def ask(
        ctx: Context,
        applicant: Applicant,
        invite: InviteFlow,
        check_types: list[str] | None,
        package_id: uuid.UUID | None,
        tags: list[str] | None,
        group: uuid.UUID | None,
    ) -> Elicit[consent.Confirm] | consent.NotAsked:
        order = Prepared(order_body(applicant, invite, check_types, package_id, tags, group))
        if not consent.can_elicit(ctx):
            return consent.NotAsked()
        source, _, ledger = certn_parts(registry)
        await refuse_unknown_group(source, group)
        notes: list[str] = []
        done = await off_loop(ledger.find_order, order.key, window=settings.order_window)
        if done is not None:
            found = await look(source, done)
            if found.counts:
                return consent.NotAsked()  # already ordered: nothing to confirm
            notes.append(found.note())
        elif await _maybe_placed(ledger, order, settings):
            notes.append(after_send.EARLIER_ATTEMPT.capitalize() + ".")
        # Rendered the same on every round (the SDK accepts an answer only to the question it asked).
        question = "\n".join([order.summary(registry.sandbox), *(f"Note: {n}" for n in notes)])
        return Elicit(question + "\n\nPlace this order?", consent.Confirm)

    async def order_case(
        applicant: Applicant,
        invite: Annotated[
            InviteFlow,
            Field(
                description="email_invite: Certn e-mails the applicant; invite_link: you get a link to send; "
                "quickscreen: no invite, needs name, date_of_birth and address."
            ),
        ],
        answer: Annotated[ElicitationResult[consent.Confirm], Resolve(ask)],
        ctx: Context,
        check_types: Annotated[
            list[CheckType] | None, Field(min_length=1, max_length=10, description="Checks to order.")
        ] = None,
        package_id: Annotated[uuid.UUID | None, Field(description="A saved Certn package, instead of checks.")] = None,
        tags: Annotated[list[Tag] | None, Field(max_length=20, description="Case tags.")] = None,
        group: Annotated[uuid.UUID | None, Field(description="Certn group id (get_case certn:groups).")] = None,
        confirmation_token: Annotated[
            str | None, Field(max_length=200, description="From the quote, once the user approved it."), Visible
        ] = None,
    ) -> Annotated[CallToolResult, OrderResult]:
        order = Prepared(order_body(applicant, invite, check_types, package_id, tags, group))
        order.caller = elicited.caller_id(ctx)
        source, client, ledger = certn_parts(registry)
        sandbox = source.sandbox

        def entry(outcome: str, provider_id: str | None = None, **detail: Any) -> Entry:
            return Entry(NAME, outcome, order.record, "certn", provider_id, order.key, detail, sandbox, order.caller)

        confirming = Confirming.of(answer, CONFIRMS, ledger, settings, entry)
        if confirming.not_given:
            head = await confirming.record_not_given()
            return tool_result(OrderResult(status="not_ordered", sandbox=sandbox, order=order.quote), head)
        if confirming.flow == "token" and confirmation_token is None:
            notes: list[str] = []
            done = await off_loop(ledger.find_order, order.key, window=settings.order_window)
            if done is not None:
                found = await look(source, done)
                if found.counts:
                    return await _already(source, ledger, order, found, entry)
                await _lapsed(ledger, found, entry)
                notes.append(found.note())
            await refuse_unknown_group(source, group)
            return await _quote(confirming, order, sandbox, notes)
        nonce = await confirming.nonce(ctx, confirmation_token, order.subject)
        return await _place(source, client, order, Claiming(confirming, nonce, WORDS))

    elicited.install(server)
    server.add_tool(order_case, name=NAME, description=DESCRIPTION, annotations=ANNOTATIONS)


async def _quote(confirming: Confirming, order: Prepared, sandbox: bool, notes: list[str]) -> CallToolResult:
    ttl = confirming.settings.confirm_ttl
    maybe = await _maybe_placed(confirming.ledger, order, confirming.settings)
    shown = list(notes)  # the text states the earlier attempt in its head line instead
    if maybe:
        notes = [*notes, after_send.EARLIER_ATTEMPT.capitalize() + "."]
    quote = await confirming.quote(order.subject)
    minutes = max(1, round(ttl / 60))
    result = OrderResult(
        status="confirmation_required",
        sandbox=sandbox,
        order=order.quote,
        confirmation_token=quote.token,
        expires_at=quote.expires_at,
        notes=notes,
    )
    head = f"{after_send.EARLIER_ATTEMPT}; this call ordered nothing." if maybe else "nothing has been ordered yet."
    text = "\n".join(
        [
            f"CONFIRMATION NEEDED: {head}",
            order.summary(sandbox),
            *(f"Note: {n}" for n in shown),
            "",
            "Show this to the user and ask whether to place the order. Only if they explicitly say yes, call "
            f"order_case again with exactly the same arguments plus confirmation_token: {quote.token}",
            f"(single use, valid {minutes} minutes, until {quote.expires_at}).",
        ]
    )
    return tool_result(result, text)


async def _maybe_placed(ledger: ActionLedger, order: Prepared, settings: ActionSettings) -> bool:
    """True when the last attempt of this order may have created it (its outcome is unknown or unrecorded)."""
    latest = await off_loop(ledger.order_state, order.key, window=settings.order_window)
    return latest is not None and latest.outcome != "ordered" and isinstance(latest.entry.detail.get("known"), list)


async def _lapsed(ledger: ActionLedger, found: Existing, entry: EntryFn) -> None:
    """Record that the earlier order's case ended unused: from now on it is not this order."""
    await off_loop(ledger.append, entry("lapsed", found.case_id, original=found.row.id, status=found.status))


async def _already(
    source: CertnSource, ledger: ActionLedger, order: Prepared, found: Existing, entry: EntryFn
) -> CallToolResult:
    await off_loop(ledger.append, entry("existing", found.case_id, original=found.row.id, status=found.status))
    if found.case is not None:
        summary = source.summary(found.case)
        status = one_line(summary.status, 60) or "unknown"
    else:
        summary = CaseSummary(ref=found.ref, title=found.case_id)
        status = "unknown (could not be read)"
    change = invite_change(found.row.entry.request, order.quote.invite, found.ref)
    head = f"Already ordered (not ordered again): {found.ref}, status {status}"
    if change is not None:
        head = f"Not ordered again: {found.ref} (status {status}) is this order with another invite flow"
    notes = [found.note(), *([change] if change else [])]
    result = OrderResult(status="already_ordered", sandbox=source.sandbox, order=order.quote, case=summary, notes=notes)
    return tool_result(result, _text(result, head))


def _text(result: OrderResult, head: str) -> str:
    lines = [SANDBOX_BANNER] if result.sandbox else []
    lines.append(head)
    if result.case is not None:
        lines.extend(fence([case_line(result.case)]))
    if result.invite_link:
        lines.append(f"Invite link (send it to the applicant; Certn did not e-mail them): {result.invite_link}")
    lines.extend(f"Note: {n}" for n in result.notes)
    return "\n".join(lines)


async def _place(source: CertnSource, client: CertnClient, order: Prepared, claiming: Claiming) -> CallToolResult:
    """Claim the order in the ledger, then place it once; an ambiguous failure is looked up, never resent."""
    c = claiming.confirming
    notes: list[str] = []
    while True:
        claim = await claiming.next()
        assert claim.row is not None
        if claim.status == "claimed":
            break
        found = await look(source, claim.row)  # done: the case of an identical order
        if found.counts:
            return await _already(source, c.ledger, order, found, c.entry)
        await _lapsed(c.ledger, found, c.entry)
        notes.append(found.note())  # that case ended unused: claim again, as a new order
    case, note = await order_attempt.run(source, client, c.ledger, order, claim.row.id, claim.known, c.entry)
    return _ordered(source, order, case, [*notes, note] if note else notes)


def _ordered(source: CertnSource, order: Prepared, case: CertnCase, notes: list[str]) -> CallToolResult:
    link = web_link(case.invite_link) if order.quote.invite == "invite_link" else None
    if order.quote.invite == "invite_link" and not link:
        what = "no invite link" if not case.invite_link else "an invite link that is not a plain https link"
        notes.append(f"Certn returned {what}; find the link in the Certn portal.")
    result = OrderResult(
        status="ordered",
        sandbox=source.sandbox,
        order=order.quote,
        case=source.summary(case),
        invite_link=link,
        notes=notes,
    )
    return tool_result(result, _text(result, f"Ordered: {source.ref(case.id)}"))
