"""The configured providers as the tools see them, and where each tool gets registered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from casebridge.providers.redaction import Redactor
from casebridge.tools.actions import ActionLedger, ActionSettings
from casebridge.tools.catalog import BUILTIN, Catalog
from casebridge.tools.errors import ToolFailure
from casebridge.tools.models import ProviderName
from casebridge.tools.privacy import PrivacyPolicy
from casebridge.tools.sources.base import Source


@dataclass
class SourceRegistry:
    """Adapters for the providers this server may use, keyed by provider name."""

    sources: dict[ProviderName, Source] = field(default_factory=dict)
    catalog: Catalog = BUILTIN  # every provider the server knows, configured or not
    sandbox: bool = False
    read_only: bool = False
    commcare_writes: bool = True  # COMMCARE_WRITES=off: no update_case, whatever else is offered
    # Per-tool rewrites of the published input schema, e.g. to offer only configured providers.
    schema_hooks: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = field(default_factory=dict)
    # Where order_case, cancel_case and generate_report record what they do (injected by the server).
    ledger: ActionLedger | None = None
    actions: ActionSettings = field(default_factory=ActionSettings)
    # Removes every configured credential (and its encodings) from each tool result: the last line of defence.
    redactor: Redactor = field(default_factory=lambda: Redactor(()))
    # What personal data reaches the model (CASEBRIDGE_PRIVACY and its lists); the server applies it to every call.
    privacy: PrivacyPolicy = field(default_factory=PrivacyPolicy)

    @property
    def providers(self) -> tuple[ProviderName, ...]:
        return self.catalog.names

    @property
    def configured(self) -> list[ProviderName]:
        return [p for p in self.catalog.names if p in self.sources]

    def get(self, provider: str) -> Source:
        source = self.sources.get(provider)
        if source is not None:
            return source
        if provider not in self.catalog:
            raise ToolFailure(
                "invalid_input",
                f"unknown provider {provider[:40]!r}",
                field="provider",
                fix=f"Use one of: {', '.join(self.configured or self.providers)}.",
            )
        offered = ", ".join(self.configured) or "none"
        raise ToolFailure(
            "not_configured",
            f"{provider} is not configured on this server (configured: {offered})",
            provider=provider,
            fix=(
                f"Use a configured provider, or ask whoever installed casebridge to {self.catalog[provider].hint}; "
                "to try casebridge without credentials, run it with --sandbox."
            ),
        )

    async def aclose(self) -> None:
        for source in self.sources.values():
            await source.aclose()
        close = getattr(self.ledger, "close", None)
        if close is not None:
            close()
