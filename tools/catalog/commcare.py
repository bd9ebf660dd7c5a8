"""CommCare HQ (client and patient records), declared once (``tools.catalog.spec``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, SecretStr

from casebridge.providers.errors import NotFound
from casebridge.tools.catalog.spec import ProviderSpec, SandboxSpec

if TYPE_CHECKING:
    from casebridge.providers.commcare.client import CommCareClient
    from casebridge.providers.http import AsyncBaseTransport, HttpPolicy
    from casebridge.sandbox.emulation import Emulator
    from casebridge.tools.sources.base import Source

DEFAULT_URL = "https://www.commcarehq.org"


class CommCareVariables(BaseModel):
    commcare_username: str | None = None
    commcare_api_key: SecretStr | None = None
    commcare_domain: str | None = None
    commcare_base_url: str = DEFAULT_URL
    # Which CommCare case API serves searches and reads: auto = v2, or v0.5 where v2 cannot or is missing.
    commcare_case_api: Literal["auto", "v2", "v0.5"] = "auto"


def _connect(v: CommCareVariables, transport: AsyncBaseTransport | None, policy: HttpPolicy) -> CommCareClient:
    from casebridge.providers.commcare.client import CommCareClient

    assert v.commcare_api_key is not None
    return CommCareClient.connect(
        v.commcare_base_url,
        v.commcare_username or "",
        v.commcare_api_key.get_secret_value(),
        v.commcare_domain or "",
        transport=transport,
        policy=policy,
        case_api=v.commcare_case_api,
    )


def _source(client: CommCareClient, sandbox: bool) -> Source:
    from casebridge.tools.sources.commcare import CommCareSource

    return CommCareSource(client, sandbox=sandbox)


def _filters() -> type[BaseModel]:
    from casebridge.tools.sources.commcare_filters import CommCareFilters

    return CommCareFilters


async def _probe(cc: CommCareClient) -> str | None:
    """One list page of the API casebridge will use: v2, else (a 404 there, or pinned) v0.5."""
    if cc.case_api != "v0.5":
        try:
            await cc.list_cases_v2(limit=1)
            return None
        except NotFound:
            if cc.case_api == "v2":
                raise
    await cc.list_cases_v05(limit=1)
    if cc.case_api == "v0.5":
        return "ok: the v0.5 case API serves every call (COMMCARE_CASE_API=v0.5)"
    return "ok: this server has only the v0.5 case API (no v2); casebridge uses v0.5"


def _denied_fix(v: CommCareVariables, where: str) -> str:
    return (
        f"{where} accepted the key but denied project space '{v.commcare_domain}' (HTTP 403): "
        "check COMMCARE_DOMAIN, and that COMMCARE_USERNAME has API access to it"
    )


def _not_found_also(v: CommCareVariables) -> str:
    return f" and COMMCARE_DOMAIN ('{v.commcare_domain}')"


def _emulator() -> Emulator:
    from casebridge.sandbox.commcare import app

    return app.build()


def _sandbox_variables(base_url: str) -> dict[str, str]:
    from casebridge.sandbox.commcare import app

    return {
        "commcare_base_url": base_url,
        "commcare_domain": app.SANDBOX_DOMAIN,
        "commcare_username": app.SANDBOX_USERNAME,
        "commcare_api_key": app.SANDBOX_API_KEY,
    }


SPEC = ProviderSpec(
    name="commcare",
    summary="client/patient records",
    variables=CommCareVariables,
    required={
        "commcare_username": "you@example.org",
        "commcare_api_key": "your-commcare-api-key",
        "commcare_domain": "your-project-space",
    },
    url="commcare_base_url",
    connect=_connect,
    source=_source,
    filters=_filters,
    probe=_probe,
    sandbox=SandboxSpec(_emulator, _sandbox_variables, prefix="/a/"),
    public=("commcare_username", "commcare_domain"),
    denied_fix=_denied_fix,
    not_found_also=_not_found_also,
)
