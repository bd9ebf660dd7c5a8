"""``cancel_case``: cancel one Certn case while Certn still allows it, with the user's confirmation."""

# No "from __future__ import annotations": the tool signature names a local resolver, evaluated at def time.
from typing import Annotated, Any, Literal

from mcp.server import MCPServer
from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Context, Elicit, Resolve
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from casebridge.providers.certn.client import CertnCase, CertnClient
from casebridge.providers.certn.vocab import CANCELLABLE_CHECK_STATUSES, CLOSED_CHECK_STATUSES
from casebridge.providers.errors import ProviderError, Rejected
from casebridge.tools import consent
from casebridge.tools.actions import Entry, off_loop
from casebridge.tools.errors import ToolFailure
from casebridge.tools.models import CaseSummary, Model, Visible
from casebridge.tools.registry import SourceRegistry
from casebridge.tools.render import SANDBOX_BANNER, case_line, fence, fence_inline, tool_result
from casebridge.tools.sources.certn import CertnSource, check_status_text, check_type_text, short_id
from casebridge.tools.support import after_send, elicited
from casebridge.tools.support.confirm import Confirming, Purpose
from casebridge.tools.support.refs import certn_case_id, certn_parts
from casebridge.tools.text import one_line

NAME = "cancel_case"
NOTHING = "Nothing was cancelled"
REQUOTE = (
    "Call cancel_case again without confirmation_token for a new confirmation, show it to the user, "
    "and wait for their explicit approval."
)
CONFIRMS = Purpose(NAME, "cancel", NOTHING, REQUOTE)
UNRECORDED = "casebridge could not record this cancellation in its ledger; Certn's case shows it."
RULE = "Certn cancels a case only while every active check is awaiting the applicant or pending fulfilment"

DESCRIPTION = (
    "Cancel one Certn case by ref (certn:<id>); only while its checks have not started. The user must "
    "confirm: the client may ask them; otherwise the first call cancels nothing and returns a "
    "confirmation_token. Show the summary to the user and wait for their explicit yes; only then call "
    "again with the same ref plus confirmation_token."
)

ANNOTATIONS = ToolAnnotations(
    title="Cancel background check",
    read_only_hint=False,
    destructive_hint=True,
    idempotent_hint=True,
    open_world_hint=True,
)


class CancelResult(Model):
    status: Annotated[
        Literal["confirmation_required", "cancelled", "already_cancelled", "not_cancelled"],
        Field(description="confirmation_required: nothing cancelled yet, show the summary to the user."),
    ]
    sandbox: bool
    case: CaseSummary
    confirmation_token: Annotated[str | None, Field(description="Only after the user approved.")] = None
    expires_at: str | None = None
    notes: list[str] = Field(default_factory=list)


def _blocking(case: CertnCase) -> list[str]:
    """Why Certn would refuse to cancel, one phrase per check that has moved on; [] when it allows it."""
    active = [c for c in case.checks if c.status not in CLOSED_CHECK_STATUSES]
    if not active:
        return ["no check is still active"]
    return [
        f"{check_type_text(c.type)} is {check_status_text(c.status)}"
        for c in active
        if c.status not in CANCELLABLE_CHECK_STATUSES
    ]


def _summary_text(source: CertnSource, case: CertnCase) -> str:
    # Provider values in casebridge's sentence: validated (id, short id, known codes) or fenced as data.
    checks = ", ".join(f"{check_type_text(c.type)} ({check_status_text(c.status)})" for c in case.checks)
    who = one_line(case.applicant_name, 100) or ""
    email = one_line(case.email_address, 254)
    applicant = f"{who} <{email}>" if who and email else who or email
    head = "[SANDBOX: synthetic, nothing real is cancelled] " if source.sandbox else ""
    short = f" ({short_id(case)})" if short_id(case) else ""
    return (
        f"{head}Cancel Certn case {source.ref(case.id)}{short}:\n"
        f"Applicant: {fence_inline(applicant) if applicant else 'unknown applicant'}\n"
        f"Checks: {checks or 'none'}\nCancelling stops these checks and cannot be undone."
    )


async def _read(client: CertnClient, case_id: str) -> CertnCase:
    try:
        return await client.get_case(case_id)
    except ProviderError as exc:
        raise ToolFailure.from_provider(exc) from exc


def register(server: MCPServer, registry: SourceRegistry) -> None:
    settings = registry.actions

    async def ask(ctx: Context, ref: str) -> Elicit[consent.Confirm] | consent.NotAsked:
        source, client, _ = certn_parts(registry)
        case = await _read(client, certn_case_id(registry, ref))
        if not consent.can_elicit(ctx) or case.overall_status == "CANCELLED" or _blocking(case):
            return consent.NotAsked()
        return Elicit(_summary_text(source, case) + "\n\nCancel this case?", consent.Confirm)

    async def cancel_case(
        ref: Annotated[str, Field(max_length=300, description="Certn case ref, certn:<id>."), Visible],
        answer: Annotated[ElicitationResult[consent.Confirm], Resolve(ask)],
        ctx: Context,
        confirmation_token: Annotated[
            str | None, Field(max_length=200, description="From the first call, once the user approved."), Visible
        ] = None,
    ) -> Annotated[CallToolResult, CancelResult]:
        source, client, ledger = certn_parts(registry)
        case_id = certn_case_id(registry, ref)
        request = {"case": case_id}
        caller = elicited.caller_id(ctx)

        def entry(outcome: str, **detail: Any) -> Entry:
            return Entry(NAME, outcome, request, "certn", case_id, None, detail, source.sandbox, caller)

        def result(
            status: Any, case: CertnCase, head: str, notes: list[str] | None = None, **extra: Any
        ) -> CallToolResult:
            out = CancelResult(
                status=status, sandbox=source.sandbox, case=source.summary(case), notes=notes or [], **extra
            )
            lines = [SANDBOX_BANNER] if source.sandbox else []
            lines += [head, *fence([case_line(out.case)]), *(f"Note: {n}" for n in out.notes)]
            return tool_result(out, "\n".join(lines))

        case = await _read(client, case_id)
        if case.overall_status == "CANCELLED":
            return result("already_cancelled", case, "Already cancelled in Certn; nothing was changed.")
        blocking = _blocking(case)
        if blocking:
            await off_loop(ledger.append, entry("refused", note="; ".join(blocking)))
            raise _refusal(blocking)
        confirming = Confirming.of(answer, CONFIRMS, ledger, settings, entry)
        if confirming.not_given:
            return result("not_cancelled", case, await confirming.record_not_given())
        subject = consent.bound({"cancel": case_id}, caller)
        if confirming.flow == "token" and confirmation_token is None:
            quote = await confirming.quote(subject)
            head = (
                f"CONFIRMATION NEEDED: nothing has been cancelled yet.\n{_summary_text(source, case)}\n\n"
                "Show this to the user and ask whether to cancel. Only if they explicitly say yes, call "
                f"cancel_case again with the same ref plus confirmation_token: {quote.token} "
                f"(single use, valid until {quote.expires_at})."
            )
            return result(
                "confirmation_required", case, head, confirmation_token=quote.token, expires_at=quote.expires_at
            )
        await confirming.use(await confirming.nonce(ctx, confirmation_token, subject))
        await off_loop(ledger.append, entry("sending"))
        # From here the POST may have left: a ledger failure must not hide it (after_send.record).
        try:
            await client.cancel_case(case_id)
        except Exception as exc:  # after sending, even an answer that breaks the parser may mean a cancellation
            problem = exc if isinstance(exc, ProviderError) else None
            what = problem.category if problem is not None else f"unreadable answer: {type(exc).__name__}"
            after = await _reread(client, case_id)
            if after is not None and after.overall_status == "CANCELLED":
                notes = ["Certn's answer was unclear; re-reading shows it."]
                if not await after_send.record(ledger, entry("cancelled", note=f"confirmed by re-reading ({what})")):
                    notes.append(UNRECORDED)
                return result("cancelled", after, "Cancelled.", notes)
            if isinstance(problem, Rejected):
                reasons = _blocking(after) if after is not None else []
                await after_send.record(ledger, entry("refused", message=problem.message))
                raise _refusal(reasons, problem.message) from exc
            if problem is not None and not problem.maybe_sent:
                await after_send.record(ledger, entry("failed", message=problem.message))
                raise ToolFailure.from_provider(problem, NOTHING) from exc
            await after_send.record(ledger, entry("uncertain", message=problem.message if problem else what))
            raise after_send.may_have_been_placed(
                "Certn did not answer clearly and the case does not show as cancelled yet", problem, cancel=True
            ) from exc
        after = await _reread(client, case_id)
        recorded = await after_send.record(ledger, entry("cancelled"))
        return result("cancelled", after or case, "Cancelled.", None if recorded else [UNRECORDED])

    elicited.install(server)
    server.add_tool(cancel_case, name=NAME, description=DESCRIPTION, annotations=ANNOTATIONS)


async def _reread(client: CertnClient, case_id: str) -> CertnCase | None:
    try:
        return await client.get_case(case_id)
    except Exception:  # read after a send: a case that cannot be read is just unknown
        return None


def _refusal(reasons: list[str], said: str | None = None) -> ToolFailure:
    why = f" ({'; '.join(reasons)})" if reasons else ""
    return ToolFailure(
        "provider_rejected",
        f"{NOTHING}: {RULE}{why}",
        provider="certn",
        provider_message=said,
        fix="The case can no longer be cancelled through the API; the user can contact Certn support.",
    )
