"""``get_case``: one case in detail by its ref, optionally with attached documents, checks, ...

Also serves the ``case://{provider}/{id}`` resources, which read the same detail.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from providers.errors import NotFound, ProviderError
from tools.errors import ToolFailure, invalid
from tools.models import PROVIDERS, CaseDetail, Visible
from tools.registry import SourceRegistry
from tools.render import detail_text, tool_result
from tools.sources.base import Source
from tools.text import first_invisible

NAME = "get_case"

Include = Literal["documents", "dockets", "resources", "parent", "children", "supplementary", "files"]

DESCRIPTION = (
    "Read one case by its ref (provider:id, as search_cases returns). `include` adds attached "
    "lists: clearinghouse documents, dockets, resources; commcare parent, children; certn "
    "supplementary, files (checks are always included)."
)

ANNOTATIONS = ToolAnnotations(
    title="Get case",
    read_only_hint=True,
    destructive_hint=False,
    idempotent_hint=True,
    open_world_hint=True,
)

_REF = re.compile(r"^(?:case://)?([a-z]+)[:/](.+)$")


def split_ref(ref: str) -> tuple[str, str] | None:
    """``(provider, raw id)`` of ``provider:id`` or ``case://provider/id``; None when it is neither."""
    match = _REF.match(ref.strip())
    return (match[1], match[2]) if match else None


def parse_ref(ref: str, registry: SourceRegistry) -> tuple[Source, str]:
    """The source and normalised id for ``provider:id`` (or ``case://provider/id``)."""
    bad = first_invisible(ref.strip())
    if bad is not None:
        raise invalid("ref", f"contains an invisible or control character (U+{ord(bad):04X})", "Retype the ref.")
    parts = split_ref(ref)
    example = "e.g. clearinghouse:15150"
    if parts is None:
        raise invalid(
            "ref",
            f"{ref[:80]!r} is not a case ref",
            f"Use provider:id as search_cases returns it, {example}.",
        )
    provider, raw_id = parts
    if provider not in PROVIDERS:
        raise invalid("ref", f"unknown provider {provider[:30]!r} in the ref", f"Providers: {', '.join(PROVIDERS)}.")
    source = registry.get(provider)
    try:
        return source, source.check_id(raw_id)
    except ValueError as exc:
        raise invalid("ref", str(exc), "Use a ref from search_cases results.", provider=provider) from exc


async def read_case(registry: SourceRegistry, ref: str, include: frozenset[str]) -> CaseDetail:
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
        ref: Annotated[str, Field(max_length=300, description="Case ref, e.g. clearinghouse:15150."), Visible],
        include: Annotated[list[Include], Field(max_length=7, description="Extra lists to attach.")] = [],  # noqa: B006
    ) -> Annotated[CallToolResult, CaseDetail]:
        detail = await read_case(registry, ref, frozenset(include))
        return tool_result(detail, detail_text(detail))

    server.add_tool(get_case, name=NAME, description=DESCRIPTION, annotations=ANNOTATIONS)


def register_resources(server: MCPServer, registry: SourceRegistry) -> None:
    """The ``case://{provider}/{id}`` resource templates, one per configured provider."""
    for provider in registry.configured:
        _register_resource(server, registry, provider)


def _register_resource(server: MCPServer, registry: SourceRegistry, provider: str) -> None:
    async def read(id: str) -> str:
        try:
            detail = await read_case(registry, f"{provider}:{id}", frozenset())
        except ToolFailure as exc:
            raise ResourceError(exc.render()) from exc
        except NotFound as exc:
            raise ResourceError(f"{provider} case {id} not found") from exc
        except ProviderError as exc:
            raise ResourceError(ToolFailure.from_provider(exc).render()) from exc
        return detail_text(detail)

    server.resource(
        f"case://{provider}/{{id}}",
        name=f"{provider}_case",
        title=f"{provider} case",
        description=f"One {provider} case in detail, as get_case renders it.",
        mime_type="text/plain",
    )(read)
