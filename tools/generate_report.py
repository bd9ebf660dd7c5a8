"""``generate_report``: start a Certn case's PDF report and follow it for a bounded time, resumably."""

# No "from __future__ import annotations": the tool signature names a local resolver, evaluated at def time.
import time
from typing import Annotated, Any, Literal

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, ResourceLink, ToolAnnotations
from pydantic import Field, ValidationError

from casebridge.providers.errors import NotFound, ProviderError
from casebridge.tools.actions import Entry, off_loop
from casebridge.tools.errors import ToolFailure
from casebridge.tools.models import Model, Visible
from casebridge.tools.registry import SourceRegistry
from casebridge.tools.render import SANDBOX_BANNER, tool_result
from casebridge.tools.support import after_send, elicited
from casebridge.tools.support.refs import certn_case_id, certn_parts
from casebridge.tools.text import is_uuid, web_link

NAME = "generate_report"
REPORT_ROWS = ("report_started", "report_complete", "report_failed")
LINK_NOTE = "The download link is short-lived (presigned): fetch it soon, or call generate_report again for a new one."

DESCRIPTION = (
    "Create the PDF report of one Certn case (ref certn:<id>) and wait briefly for it. Returns a "
    "short-lived download link, or, if Certn is still generating it, the report id: call again with "
    "the same ref later to keep following that report (no new report is started)."
)

ANNOTATIONS = ToolAnnotations(
    title="Generate case report",
    read_only_hint=False,
    destructive_hint=False,
    idempotent_hint=True,
    open_world_hint=True,
)


class ReportResult(Model):
    status: Annotated[Literal["complete", "pending"], Field(description="pending: call again later to resume.")]
    sandbox: bool
    ref: str
    report_id: str
    download_url: Annotated[str | None, Field(description="Presigned PDF link; expires soon.")] = None
    resumed: Annotated[bool, Field(description="Followed a report started by an earlier call.")] = False
    notes: list[str] = Field(default_factory=list)


def register(server: MCPServer, registry: SourceRegistry) -> None:
    settings = registry.actions

    async def generate_report(
        ref: Annotated[str, Field(max_length=300, description="Certn case ref, certn:<id>."), Visible],
        ctx: Context,
    ) -> Annotated[CallToolResult, ReportResult]:
        source, client, ledger = certn_parts(registry)
        case_id = certn_case_id(registry, ref)

        caller = elicited.caller_id(ctx)

        def entry(outcome: str, **detail: Any) -> Entry:
            return Entry(NAME, outcome, {"case": case_id}, "certn", case_id, None, detail, source.sandbox, caller)

        previous = await off_loop(
            ledger.last, tool=NAME, provider_id=case_id, outcomes=REPORT_ROWS, window=settings.order_window
        )
        report_id = str(previous.entry.detail.get("report_id")) if previous is not None else ""
        # Only a report id of Certn's form is followed (it is shown in the result text).
        resumed = previous is not None and previous.outcome == "report_started" and is_uuid(report_id)

        async def start_report() -> str:
            try:
                started = await client.generate_report(case_id)
            except ProviderError as exc:
                await off_loop(ledger.append, entry("failed", message=exc.message))
                failure = ToolFailure.from_provider(exc)
                if exc.maybe_sent:
                    failure.retryable = True
                    failure.fix = "Call again: starting a second report is harmless."
                raise failure from exc
            # Started at Certn: a ledger that cannot record it only means the next call starts another (harmless).
            await after_send.record(ledger, entry("report_started", report_id=started))
            return started

        if not resumed:
            report_id = await start_report()
        start = time.monotonic()
        while True:
            try:
                status = await client.report_file(report_id)
            except NotFound:
                if not resumed:
                    raise
                await off_loop(ledger.append, entry("report_failed", report_id=report_id, note="unknown to Certn"))
                report_id, resumed = await start_report(), False
                continue
            if status.status == "FAILED":
                await off_loop(ledger.append, entry("report_failed", report_id=report_id))
                raise ToolFailure(
                    "provider_rejected",
                    f"Certn could not generate the report for {source.ref(case_id)} (report {report_id} FAILED)",
                    provider="certn",
                    retryable=True,
                    fix=(
                        "Call generate_report again to start a new report; if that fails too, the case's "
                        "report has to be taken from the Certn portal or Certn support."
                    ),
                )
            if status.status == "COMPLETE" and status.pdf_url:
                url = web_link(status.pdf_url)
                if url is None:
                    await off_loop(ledger.append, entry("report_failed", report_id=report_id, note="unusable link"))
                    raise ToolFailure(
                        "malformed_response",
                        f"Certn's download link for report {report_id} is not a plain https link",
                        provider="certn",
                        retryable=True,
                        fix="Call generate_report again for a new report; else take it from the Certn portal.",
                    )
                await off_loop(ledger.append, entry("report_complete", report_id=report_id))
                return _complete(source.sandbox, source.ref(case_id), report_id, url, resumed)
            elapsed = time.monotonic() - start
            await ctx.report_progress(
                min(elapsed, settings.report_wait), settings.report_wait, "Certn is generating the PDF report"
            )
            if elapsed + settings.report_poll > settings.report_wait:
                break
            await anyio.sleep(settings.report_poll)

        result = ReportResult(
            status="pending", sandbox=source.sandbox, ref=source.ref(case_id), report_id=report_id, resumed=resumed
        )
        lines = [SANDBOX_BANNER] if source.sandbox else []
        lines.append(
            f"Report {report_id} for {result.ref} is still being generated. Call generate_report again with the "
            "same ref in a minute: it resumes this report instead of starting a new one "
            f"(get_case certn:report/{report_id} reads its status too)."
        )
        return tool_result(result, "\n".join(lines))

    server.add_tool(generate_report, name=NAME, description=DESCRIPTION, annotations=ANNOTATIONS)


def _complete(sandbox: bool, ref: str, report_id: str, url: str, resumed: bool) -> CallToolResult:
    result = ReportResult(
        status="complete",
        sandbox=sandbox,
        ref=ref,
        report_id=report_id,
        download_url=url,
        resumed=resumed,
        notes=[LINK_NOTE],
    )
    lines = [SANDBOX_BANNER] if sandbox else []
    lines += [f"Report ready for {ref}: {url}", f"Note: {LINK_NOTE}"]
    out = tool_result(result, "\n".join(lines))
    try:
        link = ResourceLink(
            type="resource_link",
            uri=url,
            name=f"certn-report-{ref.partition(':')[2]}.pdf",
            title=f"Certn report for {ref}",
            description="Short-lived presigned link to the PDF.",
            mime_type="application/pdf",
        )
    except ValidationError:  # not a URL a client could open: the text still carries it
        return out
    out.content.append(link)
    return out
