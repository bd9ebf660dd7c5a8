"""Certn (background checks), declared once (``tools.catalog.spec``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, SecretStr

from casebridge.tools.catalog.spec import ProviderSpec, SandboxSpec

if TYPE_CHECKING:
    from casebridge.providers.certn.client import CertnClient
    from casebridge.providers.http import AsyncBaseTransport, HttpPolicy
    from casebridge.sandbox.emulation import Emulator
    from casebridge.tools.sources.base import Source

DEFAULT_URL = "https://api.sandbox.certn.co"


class CertnVariables(BaseModel):
    certn_api_key: SecretStr | None = None
    certn_base_url: str = DEFAULT_URL


def _connect(v: CertnVariables, transport: AsyncBaseTransport | None, policy: HttpPolicy) -> CertnClient:
    from casebridge.providers.certn.client import CertnClient

    assert v.certn_api_key is not None
    key = v.certn_api_key.get_secret_value()
    return CertnClient.connect(v.certn_base_url, key, transport=transport, policy=policy)


def _source(client: CertnClient, sandbox: bool) -> Source:
    from casebridge.tools.sources.certn import CertnSource

    return CertnSource(client, sandbox=sandbox)


def _filters() -> type[BaseModel]:
    from casebridge.tools.sources.certn import CertnFilters

    return CertnFilters


async def _probe(client: CertnClient) -> object:
    return await client.list_cases(page_size=1)


def _emulator() -> Emulator:
    from casebridge.sandbox.certn import app

    return app.build()


def _sandbox_variables(base_url: str) -> dict[str, str]:
    from casebridge.sandbox.certn import app

    return {"certn_base_url": base_url, "certn_api_key": app.SANDBOX_API_KEY}


SPEC = ProviderSpec(
    name="certn",
    summary="background checks",
    variables=CertnVariables,
    required={"certn_api_key": "your-certn-api-key"},
    url="certn_base_url",
    connect=_connect,
    source=_source,
    filters=_filters,
    probe=_probe,
    sandbox=SandboxSpec(_emulator, _sandbox_variables, prefix="/api/public"),
)
