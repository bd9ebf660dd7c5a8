"""``get_case``: one case in detail by its ref, optionally with attached documents, checks, ...

Also serves the ``case://{provider}/{id}`` resources, which read the same detail.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field, StringConstraints

from casebridge.providers.errors import NotFound, ProviderError
from casebridge.tools import privacy
from casebridge.tools.actions import Entry, off_loop
from casebridge.tools.errors import ToolFailure, invalid
from casebridge.tools.models import CaseDetail, Visible, for_providers
from casebridge.tools.registry import SourceRegistry
from casebridge.tools.render import detail_result, detail_text, masked_detail
from casebridge.tools.support.refs import parse_ref, split_ref

NAME = "get_case"

Include = Literal["documents", "dockets", "resources", "parent", "children", "supplementary", "files"]
# A field as a result names it: a fact key ("properties.dob" or "dob"), "title" or "summary".
FieldName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_. -]{0,63}$", to_lower=True)]
REVEAL_DESCRIPTION = "Masked fields of this case to show (as the result names them); each reveal is recorded."

DESCRIPTION = (
    "Read one case by its ref (provider:id, as search_cases returns). `include` adds attached "
    "lists: clearinghouse documents, dockets, resources; commcare parent, children; certn "
    "supplementary, files (checks are always included). Also certn:groups (account groups) and "
    "certn:report/<report_id> (report status, link)."
)

ANNOTATIONS = ToolAnnotations(
    title="Get case",
    read_only_hint=True,
    destructive_hint=False,
    idempotent_hint=True,
    open_world_hint=True,
)


async def read_case(registry: SourceRegistry, ref: str, include: frozenset[str]) -> CaseDetail:
    parts = split_ref(ref)
    if parts is not None and parts[0] in registry.configured:  # certn:groups, certn:report/<id>: not cases
        other = registry.get(parts[0]).check_other(parts[1])
        if other is not None:
            return await registry.get(parts[0]).get_other(other)
    source, case_id = parse_ref(ref, registry)
    unknown = sorted(include - source.includes)
    if unknown:
        valid = ", ".join(sorted(source.includes)) or "none"
        raise invalid(
            "include",
            f"{', '.join(unknown)} not available for {source.name}",
            f"Valid for {source.name}: {valid}.",
        )
    return await source.get(case_id, include)


def register(server: MCPServer, registry: SourceRegistry) -> None:
    async def get_case(
        ctx: Context,
        ref: Annotated[str, Field(max_length=300, description="Case ref, e.g. clearinghouse:15150."), Visible],
        include: Annotated[list[Include], Field(max_length=7, description="Extra lists to attach.")] = [],  # noqa: B006
        reveal: Annotated[list[FieldName], Field(max_length=20, description=REVEAL_DESCRIPTION)] = [],  # noqa: B006
    ) -> Annotated[CallToolResult, CaseDetail]:
        if reveal:
            check_reveal(registry, ref, frozenset(reveal))
        detail = await read_case(registry, ref, frozenset(include))
        if reveal:
            await record_reveal(registry, ctx, detail, sorted(set(reveal)))
        return detail_result(detail, frozenset(reveal))

    # The result's schema names the providers of this server's catalog.
    get_case.__annotations__["return"] = Annotated[CallToolResult, for_providers(CaseDetail, registry.providers)]
    server.add_tool(get_case, name=NAME, description=DESCRIPTION, annotations=ANNOTATIONS)
    if not registry.privacy.reveal_providers:  # offered only where the deployment allows it
        earlier = registry.schema_hooks.get(NAME)
        registry.schema_hooks[NAME] = lambda schema: _without_reveal(earlier(schema) if earlier else schema)


def _without_reveal(schema: dict[str, Any]) -> dict[str, Any]:
    schema = {**schema, "properties": {k: v for k, v in schema.get("properties", {}).items() if k != "reveal"}}
    return schema


def check_reveal(registry: SourceRegistry, ref: str, names: frozenset[str]) -> None:
    """Refuses a reveal the deployment does not allow (CASEBRIDGE_ALLOW_REVEAL), or of hidden properties."""
    source, _ = parse_ref(ref, registry)
    policy = registry.privacy
    if not policy.allows_reveal(source.name):
        raise ToolFailure(
            "invalid_input",
            f"this server does not reveal masked fields of {source.name} cases",
            field="reveal",
            fix=(
                "Call get_case without reveal and work with the masked values; the person can read them in "
                f"{source.name} itself. Whoever runs casebridge decides whether reveals are allowed."
            ),
        )
    hidden = sorted(n for n in names if n.removeprefix("properties.") in policy.hidden_properties)
    if source.name == "commcare" and hidden:
        raise invalid("reveal", f"{', '.join(hidden)}: hidden by this server's policy, never shown", "Leave it out.")
    if registry.ledger is None:
        raise ToolFailure("not_configured", "reveals are recorded, and this server has no ledger", field="reveal")


async def record_reveal(registry: SourceRegistry, ctx: Context, detail: CaseDetail, names: list[str]) -> None:
    """One ledger row per reveal: when, who (where the transport knows), which case, which fields; never values."""
    from casebridge.tools.support.elicited import caller_id

    assert registry.ledger is not None  # check_reveal refused otherwise
    _, case_id = detail.ref.split(":", 1)
    entry = Entry(
        NAME,
        "revealed",
        {"case": detail.ref, "fields": names},
        provider=detail.provider,
        provider_id=case_id,
        sandbox=detail.sandbox,
        caller=caller_id(ctx),
    )
    await off_loop(registry.ledger.append, entry)


def register_resources(server: MCPServer, registry: SourceRegistry) -> None:
    """The ``case://{provider}/{id}`` resource templates, one per configured provider."""
    for provider in registry.configured:
        _register_resource(server, registry, provider)


def _register_resource(server: MCPServer, registry: SourceRegistry, provider: str) -> None:
    async def read(id: str) -> str:
        try:
            detail = await read_case(registry, f"{provider}:{id}", frozenset())
        except ToolFailure as exc:
            raise ResourceError(privacy.mask_text(exc.render())) from exc
        except NotFound as exc:
            raise ResourceError(f"{provider} case {id} not found") from exc
        except ProviderError as exc:
            raise ResourceError(privacy.mask_text(ToolFailure.from_provider(exc).render())) from exc
        return detail_text(masked_detail(detail))

    server.resource(
        f"case://{provider}/{{id}}",
        name=f"{provider}_case",
        title=f"{provider} case",
        description=f"One {provider} case in detail, as get_case renders it.",
        mime_type="text/plain",
    )(read)
