"""Build the provider clients and tool adapters that a configuration enables."""

from __future__ import annotations

import dataclasses
import logging

from casebridge.providers.http import AsyncBaseTransport, HttpPolicy
from casebridge.providers.redaction import Redactor
from casebridge.server.settings import SettingsValues
from casebridge.tools.catalog import BUILTIN, Catalog
from casebridge.tools.registry import SourceRegistry
from casebridge.tools.sources.base import Source

log = logging.getLogger("casebridge")


def build_registry(
    settings: SettingsValues,
    *,
    read_only: bool = False,
    policy: HttpPolicy | None = None,
    transports: dict[str, AsyncBaseTransport] | None = None,
    catalog: Catalog = BUILTIN,
) -> SourceRegistry:
    """Adapters for every provider of ``catalog`` whose credentials are set; half-set ones are named on stderr."""
    transports = transports or {}
    policy = _with_body_cap(policy, settings)
    sources: dict[str, Source] = {}
    for spec in catalog:
        status = spec.status(settings)
        if status.configured:
            client = spec.open(settings, transports.get(spec.name), policy)
            sources[spec.name] = spec.source(client, spec.name in transports)
        elif status.half_set:
            log.warning("%s is partly configured and stays off: missing %s", spec.name, ", ".join(status.missing))
    registry = SourceRegistry(sources=sources, read_only=read_only or settings.casebridge_read_only, catalog=catalog)
    public = [str(value) for spec in catalog for name in spec.public if (value := getattr(settings, name))]
    registry.redactor = Redactor(settings.secret_values(), public=public)
    registry.privacy = settings.privacy_policy()
    registry.commcare_writes = settings.commcare_writes == "on"
    writes = "certn" in sources or ("commcare" in sources and registry.commcare_writes)
    # Reveals are recorded in the ledger too, so a server that allows them has one even without writes.
    if (writes and not registry.read_only) or registry.privacy.reveal_providers:
        from casebridge.server.ledger import OrderLedger, open_ledger

        secrets = settings.secret_values()
        if "certn" in transports or (transports and "certn" not in sources):  # the in-process sandbox:
            # its ledger lives and dies with its emulators
            registry.ledger = OrderLedger.temporary(secrets=secrets)
        else:  # PostgreSQL when CASEBRIDGE_DATABASE_URL is set, else SQLite in the data folder
            registry.ledger = open_ledger(settings, secrets=secrets)
    return registry


def _with_body_cap(policy: HttpPolicy | None, settings: SettingsValues) -> HttpPolicy:
    """The policy with ``CASEBRIDGE_MAX_RESPONSE_BYTES`` applied (a given policy keeps its own unless it is set)."""
    if policy is None:
        return HttpPolicy(max_body_bytes=settings.casebridge_max_response_bytes)
    if "casebridge_max_response_bytes" in settings.model_fields_set:
        return dataclasses.replace(policy, max_body_bytes=settings.casebridge_max_response_bytes)
    return policy
