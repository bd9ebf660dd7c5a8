"""``order_case``: order a Certn background check, only with the user's confirmation and never twice."""

# No "from __future__ import annotations": the tool signature names a local resolver, evaluated at def time.
import functools
import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

import anyio
from mcp.server import MCPServer
from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Context, Elicit, Resolve
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field, StringConstraints, field_validator

from casebridge.providers.certn.client import CertnCase, CertnClient
from casebridge.providers.certn.vocab import EXPLICIT_CHECK_PARENT, check_type_label
from casebridge.providers.errors import ProviderError
from casebridge.tools import consent
from casebridge.tools.actions import ActionLedger, ActionSettings, Entry, off_loop
from casebridge.tools.errors import ToolFailure, invalid
from casebridge.tools.models import CaseSummary, Model, Visible
from casebridge.tools.registry import SourceRegistry
from casebridge.tools.render import SANDBOX_BANNER, case_line, fence, tool_result
from casebridge.tools.sources.certn import CHECK_TYPE_VOCAB, CertnSource, Tag
from casebridge.tools.support import after_send, claims, elicited
from casebridge.tools.support.existing import Existing, look
from casebridge.tools.support.order_checks import invite_change, refuse_unknown_group
from casebridge.tools.text import one_line, web_link

if TYPE_CHECKING:
    # The order bodies are defined on the first order (providers.certn.extra), not at start-up.
    from casebridge.providers.certn.extra import CheckArguments

log = logging.getLogger("casebridge.orders")

NAME = "order_case"
NOTHING = "Nothing was ordered"
REQUOTE = (
    "Call order_case again without confirmation_token to get a new quote, show it to the user, "
    "and wait for their explicit approval."
)

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

InviteFlow = Literal["email_invite", "invite_link", "quickscreen"]
INVITE_TEXT: dict[str, str] = {
    "email_invite": "Certn e-mails the applicant an invitation",
    "invite_link": "no e-mail; you get an invite link to send the applicant yourself",
    "quickscreen": "no invite; runs on the details supplied here",
}
_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
EntryFn = Callable[..., Entry]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), Visible]
CheckType = Annotated[str, CHECK_TYPE_VOCAB.field("Check type (code or label).")]


@functools.cache
def check_arguments() -> "dict[str, CheckArguments]":
    """The explicit sub-type each parent check is ordered with (the documented Canadian defaults).

    Built on the first order: the request body models are defined then, not at start-up (bench/, cold start).
    """
    from casebridge.providers.certn.extra import CheckArguments

    return {
        parent: CheckArguments(ordering_type="EXPLICIT_ORDERING", explicit_check_type=[child])
        for child, parent in EXPLICIT_CHECK_PARENT.items()
    }


class ApplicantAddress(Model):
    street: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Visible]
    city: Text
    region: Annotated[Text | None, Field(description="Province or state, e.g. ON.")] = None
    postal_code: Annotated[
        str | None, StringConstraints(strip_whitespace=True, min_length=1, max_length=20, to_upper=True), Visible
    ] = None
    country: Annotated[str, Field(pattern=r"^[A-Za-z]{2}$", description="ISO country code, e.g. CA.")]
    since: Annotated[date | None, Field(description="Living there since (YYYY-MM-DD).")] = None

    @field_validator("country")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


class Applicant(Model):
    email: Annotated[str, Field(max_length=254, pattern=_EMAIL, description="Applicant e-mail address."), Visible]
    given_name: Text | None = None
    family_name: Text | None = None
    date_of_birth: Annotated[date | None, Field(description="YYYY-MM-DD.")] = None
    address: Annotated[ApplicantAddress | None, Field(description="Current address.")] = None

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()

    @field_validator("date_of_birth")
    @classmethod
    def _plausible(cls, value: date | None) -> date | None:
        if value is not None and not date(1900, 1, 1) <= value < datetime.now(UTC).date():
            raise ValueError("date_of_birth must be a past date after 1900")
        return value


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


class Prepared:
    """A normalised order: the body to send, its quote, its idempotency key and its ledger record."""

    def __init__(
        self,
        applicant: Applicant,
        invite: InviteFlow,
        check_types: list[str] | None,
        package_id: uuid.UUID | None,
        tags: list[str] | None,
        group: uuid.UUID | None,
    ) -> None:
        if (check_types is None) == (package_id is None):
            raise invalid("check_types", "give either check_types or package_id (not both)")
        if check_types is not None and not check_types:
            raise invalid("check_types", "check_types is empty", "Name at least one check, or give package_id.")
        from casebridge.providers.certn.extra import (
            Address,
            CheckArguments,
            InputClaims,
            Name,
            OrderRequest,
            PackageOrderRequest,
            Residence,
        )

        a = applicant
        name = Name(given_name=a.given_name, family_name=a.family_name) if a.given_name or a.family_name else None
        residences = None
        if a.address is not None:
            address = Address(
                street_address=a.address.street,
                locality=a.address.city,
                administrative_division_1=a.address.region,
                postal_code=a.address.postal_code,
                country=a.address.country,
            )
            residences = [Residence(address=address, start_date=a.address.since)]
        if invite == "quickscreen":
            missing = [
                f
                for f, v in (
                    ("given_name", a.given_name),
                    ("family_name", a.family_name),
                    ("date_of_birth", a.date_of_birth),
                    ("address", a.address),
                )
                if not v
            ]
            if missing:
                raise invalid(
                    f"applicant.{missing[0]}",
                    f"a quickscreen needs every applicant detail; missing: {', '.join(missing)}",
                    "Supply them, or use invite: email_invite or invite_link so the applicant fills them in.",
                )
        claims = InputClaims(name=name, date_of_birth=a.date_of_birth, residences=residences)
        common: dict[str, Any] = {
            "email_address": a.email,
            "send_invite_email": invite == "email_invite",
            "return_invite_link": invite == "invite_link",
            "input_claims": claims if name or a.date_of_birth or residences else None,
            "group": str(group) if group else None,
            "tags": sorted(set(tags)) if tags else None,
        }
        checks = sorted(set(check_types)) if check_types is not None else None
        self.body: OrderRequest | PackageOrderRequest
        if checks is not None:
            self.body = OrderRequest(
                check_types_with_arguments={c: check_arguments().get(c, CheckArguments()) for c in checks}, **common
            )
            identity: dict[str, Any] = {"checks": self.body.to_json()["check_types_with_arguments"]}
        else:
            self.body = PackageOrderRequest(package=str(package_id), **common)
            identity = {"package": str(package_id)}
        self.email = a.email
        self.checks = checks
        prefill = [k for k, v in (("name", name), ("date_of_birth", a.date_of_birth), ("address", residences)) if v]
        full_name = " ".join(p for p in (a.given_name, a.family_name) if p) or None
        self.quote = OrderQuote(
            email=a.email,
            name=full_name,
            check_types=checks,
            package_id=str(package_id) if package_id else None,
            invite=invite,
            prefill=prefill,
            tags=common["tags"] or [],
            group=common["group"],
        )
        # Same applicant and same checks (or package) = same order, whatever the invite or tags.
        self.key = hashlib.sha256(consent.canonical({"certn": a.email, **identity}).encode()).hexdigest()
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


def certn_parts(registry: SourceRegistry) -> tuple[CertnSource, CertnClient, ActionLedger]:
    source = cast(CertnSource, registry.get("certn"))
    if registry.ledger is None:  # register_all never offers the tool without one
        raise ToolFailure("not_configured", "this server has no ledger for changes", provider="certn")
    return source, source.client, registry.ledger


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
        order = Prepared(applicant, invite, check_types, package_id, tags, group)
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
        order = Prepared(applicant, invite, check_types, package_id, tags, group)
        order.caller = elicited.caller_id(ctx)
        source, client, ledger = certn_parts(registry)
        sandbox = source.sandbox
        flow = consent.answer(answer)

        def entry(outcome: str, provider_id: str | None = None, **detail: Any) -> Entry:
            return Entry(NAME, outcome, order.record, "certn", provider_id, order.key, detail, sandbox, order.caller)

        if flow in ("declined", "cancelled", "other"):
            await off_loop(ledger.append, entry("declined", note=f"user {flow}"))
            result = OrderResult(status="not_ordered", sandbox=sandbox, order=order.quote)
            return tool_result(result, f"{NOTHING}: the user {flow} the confirmation.")
        nonce: str | None = None
        notes: list[str] = []
        if flow == "token":
            if confirmation_token is None:
                done = await off_loop(ledger.find_order, order.key, window=settings.order_window)
                if done is not None:
                    found = await look(source, done)
                    if found.counts:
                        return await _already(source, ledger, order, found, entry)
                    await _lapsed(ledger, found, entry)
                    notes.append(found.note())
                await refuse_unknown_group(source, group)
                return await _quote(ledger, order, sandbox, settings, entry, notes)
            try:
                nonce = await off_loop(
                    consent.verify,
                    ledger,
                    confirmation_token,
                    "order",
                    order.subject,
                    ttl=settings.confirm_ttl,
                    nothing=NOTHING,
                    fix=REQUOTE,
                )
            except consent.ConfirmationRefused as refused:
                await off_loop(ledger.append, entry("not_confirmed", note=refused.reason))
                raise
        else:  # accepted: the answer is single-use, like a token
            nonce = elicited.answer_nonce(ctx, "order", order.subject)
        return await _place(source, client, ledger, order, nonce, entry, settings, via=flow)

    elicited.install(server)
    server.add_tool(order_case, name=NAME, description=DESCRIPTION, annotations=ANNOTATIONS)


async def _quote(
    ledger: ActionLedger, order: Prepared, sandbox: bool, settings: ActionSettings, entry: EntryFn, notes: list[str]
) -> CallToolResult:
    ttl = settings.confirm_ttl
    maybe = await _maybe_placed(ledger, order, settings)
    shown = list(notes)  # the text states the earlier attempt in its head line instead
    if maybe:
        notes = [*notes, after_send.EARLIER_ATTEMPT.capitalize() + "."]
    quote = await off_loop(consent.issue, ledger, "order", order.subject, ttl)
    await off_loop(ledger.append, entry("quoted", expires_at=quote.expires_at))
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


async def _place(
    source: CertnSource,
    client: CertnClient,
    ledger: ActionLedger,
    order: Prepared,
    nonce: str | None,
    entry: EntryFn,
    settings: ActionSettings,
    *,
    via: str,
) -> CallToolResult:
    """Claim the order in the ledger, then place it once; an ambiguous failure is looked up, never resent.

    ``via`` is how the user confirmed: "token" or "accepted" (elicitation); ``nonce`` is used up with the claim.
    """
    waited: int | None = None
    notes: list[str] = []
    give_up = time.monotonic() + settings.inflight_wait
    while True:
        claim = await off_loop(
            ledger.claim,
            entry("pending"),
            window=settings.order_window,
            lease=settings.inflight_lease,
            nonce=nonce,
            after_attempt=waited,
        )
        if claim.status == "done":
            assert claim.row is not None
            found = await look(source, claim.row)
            if found.counts:
                return await _already(source, ledger, order, found, entry)
            await _lapsed(ledger, found, entry)
            notes.append(found.note())
            continue  # that case ended unused: claim again, as a new order
        if claim.status == "replayed":
            await off_loop(ledger.append, entry("not_confirmed", note="replayed"))
            raise consent.replayed(NOTHING, REQUOTE) if via == "token" else elicited.replayed(NOTHING, NAME)
        if claim.status == "failed":
            assert claim.row is not None
            raise claims.identical_failed(
                claim.row,
                nothing=NOTHING,
                done="order placed",
                provider="certn",
                fix="Change the order as the message says, then ask the user to confirm again.",
            )
        if claim.status == "busy":
            assert claim.row is not None
            waited = claim.row.entry.detail.get("attempt", claim.row.id)
            if time.monotonic() > give_up:
                raise claims.still_in_flight(
                    doing="order is being placed", did_nothing="ordered nothing", provider="certn", same="arguments"
                )
            await anyio.sleep(settings.poll_interval)
            continue
        break
    assert claim.row is not None
    attempt = claim.row.id
    return await _attempt(source, client, ledger, order, attempt, claim.known, entry, notes)


async def _attempt(
    source: CertnSource,
    client: CertnClient,
    ledger: ActionLedger,
    order: Prepared,
    attempt: int,
    known: list[str] | None,
    entry: EntryFn,
    notes: list[str],
) -> CallToolResult:
    """One claimed attempt. Once the POST may have left (or an earlier one may have), every failure is
    "may have been placed", and a ledger that cannot record the outcome leaves "sending" the latest row."""
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

    async def found_case(case: CertnCase, row_note: str | None, note: str | None) -> CallToolResult:
        """Record the case as this order's, then answer with it."""
        if not await close("ordered", case.id, **({"note": row_note} if row_note else {})):
            raise after_send.may_have_been_placed(
                f"Certn has {source.ref(case.id)} for it, but casebridge could not record that in its ledger"
            )
        return _ordered(source, order, case, [*notes, note] if note else list(notes))

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
                raise _from_provider(exc, f"{NOTHING}: Certn could not be asked") from exc
        await off_loop(ledger.append, entry("sending", attempt=attempt, known=known))
        state["sent"] = True
        cause: ProviderError | None = None
        try:
            from casebridge.providers.certn.extra import OrderRequest

            if isinstance(order.body, OrderRequest):
                case = await client.order_case(order.body)
            else:
                case = await client.order_package(order.body)
        except ProviderError as exc:
            if not exc.maybe_sent:
                await close("failed", message=exc.message)
                raise _from_provider(exc, NOTHING) from exc
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


def _from_provider(exc: ProviderError, prefix: str) -> ToolFailure:
    return ToolFailure.from_provider(exc, prefix)
