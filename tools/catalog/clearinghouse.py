"""The Civil Rights Litigation Clearinghouse, declared once (``tools.catalog.spec``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, SecretStr

from casebridge.tools.catalog.spec import ProviderSpec, SandboxSpec

if TYPE_CHECKING:
    from casebridge.providers.clearinghouse.client import ClearinghouseClient
    from casebridge.providers.http import AsyncBaseTransport, HttpPolicy
    from casebridge.sandbox.emulation import Emulator
    from casebridge.tools.sources.base import Source

DEFAULT_URL = "https://clearinghouse.net/api/v2p1"
SANDBOX_PREFIX = "/api/v2p1"  # the emulator's API, as the real one's


class ClearinghouseVariables(BaseModel):
    clearinghouse_api_token: SecretStr | None = None
    clearinghouse_base_url: str = DEFAULT_URL


def _connect(
    v: ClearinghouseVariables, transport: AsyncBaseTransport | None, policy: HttpPolicy
) -> ClearinghouseClient:
    from casebridge.providers.clearinghouse.client import ClearinghouseClient

    assert v.clearinghouse_api_token is not None
    token = v.clearinghouse_api_token.get_secret_value()
    return ClearinghouseClient.connect(v.clearinghouse_base_url, token, transport=transport, policy=policy)


def _source(client: ClearinghouseClient, sandbox: bool) -> Source:
    from casebridge.tools.sources.clearinghouse import ClearinghouseSource

    return ClearinghouseSource(client, sandbox=sandbox)


def _filters() -> type[BaseModel]:
    from casebridge.tools.sources.clearinghouse import ClearinghouseFilters

    return ClearinghouseFilters


async def _probe(client: ClearinghouseClient) -> object:
    # One case by id: a tiny answer (or the API's "no results"), but still authenticated.
    return await client.search({"case_id": 1})


def _emulator() -> Emulator:
    from casebridge.sandbox.clearinghouse import app

    return app.build()


def _sandbox_variables(base_url: str) -> dict[str, str]:
    from casebridge.sandbox.clearinghouse import app

    return {"clearinghouse_base_url": base_url + SANDBOX_PREFIX, "clearinghouse_api_token": app.SANDBOX_TOKEN}


SPEC = ProviderSpec(
    name="clearinghouse",
    summary="civil-rights lawsuits",
    variables=ClearinghouseVariables,
    required={"clearinghouse_api_token": "your-clearinghouse-token"},
    url="clearinghouse_base_url",
    connect=_connect,
    source=_source,
    filters=_filters,
    probe=_probe,
    sandbox=SandboxSpec(_emulator, _sandbox_variables, prefix=SANDBOX_PREFIX),
)
