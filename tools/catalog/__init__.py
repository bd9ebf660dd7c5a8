"""The providers casebridge knows, each declared once (``spec.ProviderSpec``); ``BUILTIN`` is the server's catalog."""

from __future__ import annotations

from casebridge.tools.catalog import certn, clearinghouse, commcare
from casebridge.tools.catalog.spec import Catalog, ProviderSpec, ProviderStatus, SandboxSpec

BUILTIN = Catalog((clearinghouse.SPEC, commcare.SPEC, certn.SPEC))

__all__ = ["BUILTIN", "Catalog", "ProviderSpec", "ProviderStatus", "SandboxSpec"]
