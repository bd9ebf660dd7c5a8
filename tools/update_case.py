"""``update_case``: create, update, close or upsert CommCare cases (one or a bulk of 100), confirmed, never twice."""

# No "from __future__ import annotations": the tool signature names a local resolver, evaluated at def time.
import logging
from collections.abc import Callable
from typing import Annotated, Any, Literal

import anyio
from mcp.server import MCPServer
from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Context, Elicit, Resolve
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from casebridge.providers.commcare.client import CaseV2
from casebridge.providers.commcare.writes import CommCareWriter
from casebridge.providers.errors import ProviderError
from casebridge.tools import consent
from casebridge.tools.actions import ActionLedger, Entry, Row, off_loop
from casebridge.tools.errors import ToolFailure
from casebridge.tools.models import Visible
from casebridge.tools.registry import SourceRegistry
from casebridge.tools.render import SANDBOX_BANNER, tool_result
from casebridge.tools.sources.commcare import CommCareSource
from casebridge.tools.support import after_send, elicited
from casebridge.tools.support.case_changes import CaseChange, Plan, Planned, applied, plan
from casebridge.tools.support.claims import Claiming, Wording
from casebridge.tools.support.confirm import Confirming, Purpose
from casebridge.tools.support.refs import commcare_parts

log = logging.getLogger("casebridge.orders")

NAME = "update_case"
NOTHING = "Nothing was changed"
REQUOTE = (
    "Call update_case again without confirmation_token for a new confirmation, show it to the user, "
    "and wait for their explicit approval."
)
CONFIRMS = Purpose(NAME, "update", NOTHING, REQUOTE)
DESCRIPTION = (
    "Create, update, close or upsert CommCare cases (1-100 changes; creating needs case_type, case_name, "
    "owner_id; property values are strings). The user confirms the before/after: the client may ask them, "
    "else the first call returns a confirmation_token; after their explicit yes, call again with it."
)
ANNOTATIONS = ToolAnnotations(
    title="Change CommCare cases",
    read_only_hint=False,
    destructive_hint=True,  # close is destructive
    idempotent_hint=True,  # the same change again writes nothing
    open_world_hint=True,
)
Status = Literal["confirmation_required", "written", "already_written", "unchanged", "not_written"]
WORDS = Wording("commcare", "change made", "change is being written", "wrote nothing", "changes")


class ChangeOutcome(BaseModel):
    action: str
    ref: str | None = None  # commcare:<id>, once known
    changed: list[str] = Field(default_factory=list)


class UpdateResult(BaseModel):
    status: Status  # confirmation_required: nothing written yet
    sandbox: bool
    changes: list[ChangeOutcome]
    confirmation_token: str | None = None
    expires_at: str | None = None
    notes: list[str] = Field(default_factory=list)


def _outcomes(p: Plan, cases: dict[int, str] | None = None) -> list[ChangeOutcome]:
    return [
        ChangeOutcome(
            action=e.change.action,
            ref=f"commcare:{(cases or {}).get(e.index) or e.case_id}"
            if (cases or {}).get(e.index) or e.case_id
            else None,
            changed=e.changed,
        )
        for e in p.entries
    ]


def register(server: MCPServer, registry: SourceRegistry) -> None:
    settings = registry.actions

    async def ask(ctx: Context, changes: list[CaseChange]) -> Elicit[consent.Confirm] | consent.NotAsked:
        source, ledger = commcare_parts(registry)
        p = await plan(source.client, changes, source.check_id)
        if not consent.can_elicit(ctx) or not p.to_write:
            return consent.NotAsked()
        if await off_loop(ledger.find_order, p.key, window=settings.order_window) is not None:
            return consent.NotAsked()  # already written: nothing to confirm
        return Elicit(p.summary(source.sandbox) + "\n\nMake these changes?", consent.Confirm)

    async def update_case(
        changes: Annotated[
            list[CaseChange], Field(min_length=1, max_length=100, description="More than one: one bulk write.")
        ],
        answer: Annotated[ElicitationResult[consent.Confirm], Resolve(ask)],
        ctx: Context,
        confirmation_token: Annotated[
            str | None, Field(max_length=200, description="Once the user approved."), Visible
        ] = None,
    ) -> Annotated[CallToolResult, UpdateResult]:
        source, ledger = commcare_parts(registry)
        sandbox = source.sandbox
        p = await plan(source.client, changes, source.check_id)
        caller = elicited.caller_id(ctx)
        key = p.key

        def entry(outcome: str, provider_id: str | None = None, **detail: Any) -> Entry:
            first = next((e.case_id for e in p.to_write if e.case_id), None)
            return Entry(NAME, outcome, p.record(), "commcare", provider_id or first, key, detail, sandbox, caller)

        def result(status: Status, head: str, **extra: Any) -> CallToolResult:
            cases = extra.pop("cases", None)
            out = UpdateResult(status=status, sandbox=sandbox, changes=_outcomes(p, cases), **extra)
            lines = [SANDBOX_BANNER] if sandbox else []
            lines += [head, *(f"Note: {n}" for n in out.notes)]
            return tool_result(out, "\n".join(lines))

        def already(row: Row) -> CallToolResult:
            cases = {int(k): v for k, v in (row.entry.detail.get("cases") or {}).items()}
            head = "Already written (not written again): this identical change was made earlier."
            return result("already_written", head, cases=cases)

        if not p.to_write:
            return result("unchanged", f"{NOTHING}: the cases already have these values.\n{p.summary(sandbox)}")
        done = await off_loop(ledger.find_order, key, window=settings.order_window)
        if done is not None:
            return already(done)
        confirming = Confirming.of(answer, CONFIRMS, ledger, settings, entry)
        if confirming.not_given:
            return result("not_written", await confirming.record_not_given())
        subject = consent.bound({"update": p.material()}, caller)
        if confirming.flow == "token" and confirmation_token is None:
            quote = await confirming.quote(subject)
            head = (
                f"CONFIRMATION NEEDED: nothing has been changed yet.\n{p.summary(sandbox)}\n\n"
                "Show this to the user and ask whether to make these changes. Only if they explicitly say yes, "
                f"call update_case again with the same changes plus confirmation_token: {quote.token} "
                f"(single use, valid until {quote.expires_at})."
            )
            return result("confirmation_required", head, confirmation_token=quote.token, expires_at=quote.expires_at)
        nonce = await confirming.nonce(ctx, confirmation_token, subject)
        claim = await Claiming(confirming, nonce, WORDS).next()
        assert claim.row is not None
        if claim.status == "done":
            return already(claim.row)
        attempt = claim.row.id
        return await _write(source, ledger, p, attempt, claim.known, entry, result)

    elicited.install(server)
    server.add_tool(update_case, name=NAME, description=DESCRIPTION, annotations=ANNOTATIONS)


async def _write(
    source: CommCareSource,
    ledger: ActionLedger,
    p: Plan,
    attempt: int,
    known: list[str] | None,
    entry: Callable[..., Entry],
    result: Callable[..., CallToolResult],
) -> CallToolResult:
    """One claimed attempt: look first if an earlier one may have written, send once, look up a lost answer."""
    writer = CommCareWriter(source.client)
    state = {"sent": False, "closed": False}
    todo = p.to_write

    async def close(outcome: str, provider_id: str | None = None, **detail: Any) -> bool:
        state["closed"] = True
        extra = {"attempt": attempt, **detail}
        if outcome == "uncertain" and known is not None:
            extra["known"] = known
        return await after_send.record(ledger, entry(outcome, provider_id, **extra))

    async def done(cases: dict[int, str], note: str | None) -> CallToolResult:
        recorded = await close("written", next(iter(cases.values()), None), cases=cases, note=note)
        notes = [note] if note else []
        if not recorded:
            notes.append("casebridge could not record this change in its ledger; CommCare's cases show it.")
        refs = ", ".join(f"commcare:{c}" for c in cases.values())
        return result("written", f"Written: {refs}\n{p.summary(source.sandbox)}", cases=cases, notes=notes)

    try:
        if known is not None:
            found = await _look(writer, todo, known)
            if found is not None:
                return await done(found, "An earlier attempt was interrupted; CommCare shows it was written.")
        else:
            known = await _known(writer, todo)
        await off_loop(ledger.append, entry("sending", attempt=attempt, known=known))
        state["sent"] = True
        cause: ProviderError | None = None
        try:
            cases = await _send(writer, todo)
        except ProviderError as exc:
            if not exc.maybe_sent:
                await close("failed", message=exc.message)
                raise ToolFailure.from_provider(exc, NOTHING) from exc
            cause, lost = exc, exc.category
        else:
            return await done(cases, None)
        log.warning("commcare write: no clear answer (%s); reading the cases", lost)
        try:
            found = await _look(writer, todo, known)
        except Exception:  # a failed lookup leaves the write unknown, which is what is reported
            found = None
        if found is not None:
            return await done(found, "CommCare's answer was lost; re-reading the cases shows the change was written.")
        assert cause is not None
        await close("uncertain", message=cause.message)
        raise ToolFailure.citing(
            cause,
            after_send.CATEGORY,
            "The change may have been written: do not make it another way. CommCare did not confirm it and "
            "re-reading the cases does not show it yet",
            retryable=True,
            retry_after_seconds=30,
            fix="Call update_case again with the same changes: it reads the cases first and writes what is missing.",
        )
    finally:
        if not state["closed"]:
            with anyio.CancelScope(shield=True):
                outcome = "uncertain" if state["sent"] else "failed"
                await after_send.record(ledger, entry(outcome, attempt=attempt, note="interrupted", known=known))


async def _send(writer: CommCareWriter, todo: list[Planned]) -> dict[int, str]:
    if len(todo) > 1:
        written = await writer.bulk([e.wire() for e in todo])
        return {e.index: c.case_id for e, c in zip(todo, written, strict=True)}
    e = todo[0]
    if e.change.action == "upsert":
        case = await writer.upsert(str(e.change.external_id), e.body)
    elif e.case_id:
        case = await writer.update(e.case_id, e.body)
    else:
        case = await writer.create(e.body)
    return {e.index: case.case_id}


def _create_filters(todo: list[Planned]) -> dict[str, list[str]] | None:
    creates = [e for e in todo if e.change.action == "create"]
    if not creates:
        return None
    return {k: sorted({str(e.body[k]) for e in creates}) for k in ("case_type", "case_name", "owner_id")}


async def _known(writer: CommCareWriter, todo: list[Planned]) -> list[str]:
    """The ids of existing cases like the ones to create: a new one outside them is this write's."""
    filters = _create_filters(todo)
    if filters is None:
        return []
    try:
        return [c.case_id for c in await writer.find(**filters)]
    except ProviderError as exc:
        raise ToolFailure.from_provider(exc, f"{NOTHING}: CommCare could not be asked") from exc


async def _look(writer: CommCareWriter, todo: list[Planned], known: list[str]) -> dict[int, str] | None:
    """Each entry's case if CommCare shows every change written; None if any is not (yet) there."""
    found: dict[int, str] = {}
    ids = [e.case_id for e in todo if e.case_id]
    current: dict[str, CaseV2] = {}
    if ids:
        current = {c.case_id: c for c in (await writer.client.get_cases_v2(ids)).found}
    upserts = [e for e in todo if e.change.action == "upsert" and not e.case_id]
    by_ext: list[CaseV2] = []
    if upserts:
        by_ext = await writer.find(external_id=sorted({str(e.change.external_id) for e in upserts}))
    filters = _create_filters(todo)
    fresh = [c for c in await writer.find(**filters) if c.case_id not in known] if filters else []
    for e in todo:
        if e.case_id:
            case = current.get(e.case_id)
        elif e.change.action == "upsert":
            case = next((c for c in by_ext if c.external_id == e.change.external_id), None)
        else:
            case = next((c for c in fresh if c.case_id not in found.values() and applied(e, c)), None)
        if case is None or not applied(e, case):
            return None
        found[e.index] = case.case_id
    return found
