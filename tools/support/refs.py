"""Case refs (``provider:id``, ``case://provider/id``) and what a write tool acts on: its source and the ledger."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, cast

from casebridge.tools.errors import ToolFailure, invalid
from casebridge.tools.text import first_invisible

if TYPE_CHECKING:
    from casebridge.providers.certn.client import CertnClient
    from casebridge.tools.actions import ActionLedger
    from casebridge.tools.registry import SourceRegistry
    from casebridge.tools.sources.base import Source
    from casebridge.tools.sources.certn import CertnSource
    from casebridge.tools.sources.commcare import CommCareSource

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
    if provider not in registry.providers:
        raise invalid(
            "ref", f"unknown provider {provider[:30]!r} in the ref", f"Providers: {', '.join(registry.providers)}."
        )
    source = registry.get(provider)
    try:
        return source, source.check_id(raw_id)
    except ValueError as exc:
        raise invalid("ref", str(exc), "Use a ref from search_cases results.", provider=provider) from exc


def certn_case_id(registry: SourceRegistry, ref: str) -> str:
    """The Certn case id of ``ref`` (``certn:<id>``, ``case://certn/<id>`` or a bare id)."""
    ref = ref.strip()
    source, case_id = parse_ref(ref if ":" in ref else f"certn:{ref}", registry)
    if source.name != "certn":
        raise invalid("ref", f"only Certn cases can be cancelled, not {source.name}", "Use a certn:<id> ref.")
    return case_id


def _ledger(registry: SourceRegistry, provider: str) -> ActionLedger:
    if registry.ledger is None:  # register_all never offers a write tool without one
        raise ToolFailure("not_configured", "this server has no ledger for changes", provider=provider)
    return registry.ledger


def certn_parts(registry: SourceRegistry) -> tuple[CertnSource, CertnClient, ActionLedger]:
    """What order_case, cancel_case and generate_report act with: the Certn source, its client, the ledger."""
    source = cast("CertnSource", registry.get("certn"))
    ledger = _ledger(registry, "certn")
    return source, source.client, ledger


def commcare_parts(registry: SourceRegistry) -> tuple[CommCareSource, ActionLedger]:
    """What update_case acts with: the CommCare source and the ledger."""
    source = cast("CommCareSource", registry.get("commcare"))
    return source, _ledger(registry, "commcare")
