"""Build the provider clients and tool adapters that a configuration enables."""

from __future__ import annotations

import dataclasses
import logging

from casebridge.providers.http import AsyncBaseTransport, HttpPolicy
from casebridge.providers.redaction import Redactor
from casebridge.server.settings import SettingsValues
from casebridge.tools.registry import SourceRegistry
from casebridge.tools.sources.base import Source

log = logging.getLogger("casebridge")


def build_registry(
    settings: SettingsValues,
    *,
    read_only: bool = False,
    policy: HttpPolicy | None = None,
    transports: dict[str, AsyncBaseTransport] | None = None,
) -> SourceRegistry:
    """Adapters for every provider whose credentials are set; half-set ones are named on stderr."""
    transports = transports or {}
    policy = _with_body_cap(policy, settings)
    sources: dict[str, Source] = {}
    for status in settings.provider_status():
        if status.half_set:
            log.warning(
                "%s is partly configured and stays off: missing %s",
                status.provider,
                ", ".join(status.missing),
            )
    if settings.clearinghouse_api_token and settings.clearinghouse_api_token.get_secret_value():
        from casebridge.providers.clearinghouse.client import ClearinghouseClient
        from casebridge.tools.sources.clearinghouse import ClearinghouseSource

        sources["clearinghouse"] = ClearinghouseSource(
            ClearinghouseClient.connect(
                settings.clearinghouse_base_url,
                settings.clearinghouse_api_token.get_secret_value(),
                transport=transports.get("clearinghouse"),
                policy=policy,
            ),
            sandbox="clearinghouse" in transports,
        )
    if (
        settings.commcare_username
        and settings.commcare_domain
        and settings.commcare_api_key
        and settings.commcare_api_key.get_secret_value()
    ):
        from casebridge.providers.commcare.client import CommCareClient
        from casebridge.tools.sources.commcare import CommCareSource

        sources["commcare"] = CommCareSource(
            CommCareClient.connect(
                settings.commcare_base_url,
                settings.commcare_username,
                settings.commcare_api_key.get_secret_value(),
                settings.commcare_domain,
                transport=transports.get("commcare"),
                policy=policy,
                case_api=settings.commcare_case_api,
            ),
            sandbox="commcare" in transports,
        )
    if settings.certn_api_key and settings.certn_api_key.get_secret_value():
        from casebridge.providers.certn.client import CertnClient
        from casebridge.tools.sources.certn import CertnSource

        sources["certn"] = CertnSource(
            CertnClient.connect(
                settings.certn_base_url,
                settings.certn_api_key.get_secret_value(),
                transport=transports.get("certn"),
                policy=policy,
            ),
            sandbox="certn" in transports,
        )
    registry = SourceRegistry(sources=sources, read_only=read_only or settings.casebridge_read_only)  # type: ignore[arg-type]
    public = [v for v in (settings.commcare_username, settings.commcare_domain) if v]
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
