"""A toy fourth provider, declared once (``TOY``) outside casebridge: its emulator, client and source, all small.

``CATALOG`` is the built-in catalog plus the toy; the tests hand it to the builders (settings, wiring, doctor,
sandbox), so nothing of casebridge's own is edited or patched to offer it.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from casebridge.providers.errors import AuthenticationFailed, NotFound, ProviderError
from casebridge.providers.http import AsyncBaseTransport, HttpPolicy, ProviderHTTP
from casebridge.sandbox.emulation import Emulator
from casebridge.tools.catalog import BUILTIN, ProviderSpec, SandboxSpec
from casebridge.tools.models import CaseDetail, CaseSummary
from casebridge.tools.sources.base import Page, PageState, Source

TOY_KEY = "toy-sandbox-key"
PREFIX = "/toy/v1"
CASES = {
    str(n): {"id": str(n), "title": f"Toy case {n}", "colour": colour}
    for n, colour in enumerate(["red", "green", "blue", "red", "green"], start=1)
}


# The emulator: a tiny API behind an API key, on the shared fault and request-log machinery.
def build_emulator(api_key: str = TOY_KEY) -> Emulator:
    emulator = Emulator("toy")

    def authorized(request: Request) -> bool:
        return request.headers.get("x-api-key") == api_key

    async def cases(request: Request) -> JSONResponse:
        if not authorized(request):
            return JSONResponse({"error": "bad key"}, status_code=401)
        colour = request.query_params.get("colour")
        rows = [c for c in CASES.values() if colour in (None, c["colour"])]
        return JSONResponse({"count": len(rows), "results": rows})

    async def case(request: Request) -> JSONResponse:
        if not authorized(request):
            return JSONResponse({"error": "bad key"}, status_code=401)
        found = CASES.get(request.path_params["case_id"])
        return JSONResponse(found) if found else JSONResponse({"error": "no such case"}, status_code=404)

    emulator.wrap(Starlette(routes=[Route(PREFIX + "/cases", cases), Route(PREFIX + "/cases/{case_id}", case)]))
    return emulator


# The client: the provider's API as Python, its errors classified.
class ToyClient:
    def __init__(self, http: ProviderHTTP) -> None:
        self.http = http

    @classmethod
    def connect(cls, base_url: str, api_key: str, *, transport: AsyncBaseTransport | None, policy: HttpPolicy) -> Self:
        headers = {"X-Api-Key": api_key}
        return cls(
            ProviderHTTP("toy", base_url, headers=headers, secrets=[api_key], policy=policy, transport=transport)
        )

    async def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        response = await self.http.get(path, params=params)
        if response.status_code in (401, 403):
            raise AuthenticationFailed("toy", "the API key was refused", status=response.status_code)
        if response.status_code == 404:
            raise NotFound("toy", f"no {path}", status=404)
        if response.status_code != 200:
            raise ProviderError("toy", f"HTTP {response.status_code}", status=response.status_code)
        return response.json()

    async def aclose(self) -> None:
        await self.http.aclose()


# The source: the tools' view of it.
class ToyFilters(BaseModel):
    """Toy case filters."""

    model_config = ConfigDict(extra="forbid")
    colour: Annotated[str | None, Field(max_length=20, description="Cases of this colour.")] = None


class ToySource(Source):
    name: ClassVar[str] = "toy"
    filters_model: ClassVar[type[BaseModel]] = ToyFilters

    def __init__(self, client: ToyClient, *, sandbox: bool = False) -> None:
        super().__init__(sandbox=sandbox)
        self.client = client

    def check_id(self, case_id: str) -> str:
        if not case_id.isdigit():
            raise ValueError("a toy case id is a number")
        return case_id

    async def search(self, filters: BaseModel, state: PageState | None, limit: int) -> Page:
        assert isinstance(filters, ToyFilters)
        params = {"colour": filters.colour} if filters.colour else None
        body = await self.client.get("cases", params)
        rows = [CaseSummary(ref=self.ref(c["id"]), title=c["title"]) for c in body["results"][:limit]]
        return Page(cases=rows, total=body["count"])

    async def get(self, case_id: str, include: frozenset[str]) -> CaseDetail:
        body = await self.client.get(f"cases/{case_id}")
        return CaseDetail(
            ref=self.ref(case_id),
            provider="toy",
            sandbox=self.sandbox,
            title=body["title"],
            facts={"colour": body["colour"]},
        )

    async def aclose(self) -> None:
        await self.client.aclose()


# The one declaration.
class ToyVariables(BaseModel):
    toy_api_key: SecretStr | None = None
    toy_base_url: str = "https://toy.invalid/toy/v1"


def _connect(v: ToyVariables, transport: AsyncBaseTransport | None, policy: HttpPolicy) -> ToyClient:
    assert v.toy_api_key is not None
    return ToyClient.connect(v.toy_base_url, v.toy_api_key.get_secret_value(), transport=transport, policy=policy)


async def _probe(client: ToyClient) -> object:
    return await client.get("cases", {"colour": "none"})


TOY = ProviderSpec(
    name="toy",
    summary="toy cases",
    variables=ToyVariables,
    required={"toy_api_key": "your-toy-key"},
    url="toy_base_url",
    connect=_connect,
    source=lambda client, sandbox: ToySource(client, sandbox=sandbox),
    filters=lambda: ToyFilters,
    probe=_probe,
    sandbox=SandboxSpec(
        build_emulator,
        lambda base: {"toy_base_url": base + PREFIX, "toy_api_key": TOY_KEY},
        prefix=PREFIX,
    ),
)

CATALOG = BUILTIN.register(TOY)
