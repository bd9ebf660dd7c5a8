"""The fault matrix: every provider x every tool x every way a provider can misbehave.

Each call ends either in success after a retry or in a typed ``isError`` result (provider,
category, retryable, retry_after_seconds where known, a fix); the emulators' request logs show
how often casebridge asked; the next call succeeds; no credential canary comes back out.
No assertion is about wall-clock time: "did not outlive its deadline" is the deadline mechanism
answering with a ``timeout`` result.
"""

from __future__ import annotations

import traceback
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from mcp import Client

from casebridge.providers.errors import ProviderError
from casebridge.sandbox.certn.app import error_body
from casebridge.server.app import CasebridgeServer
from tests.reliability.harness import (
    CANARIES,
    FAULT_POLICY,
    PROVIDERS,
    WRITE_TOOLS,
    CanaryEmulators,
    assert_no_canary,
    canary_server,
    error_of,
)
from tests.support import ERAS, hold, text_of

READ_TOOLS = ("search_cases", "get_case")


def provider_body(provider: str, status: int) -> Any:
    """An error body in the provider's own format that echoes the credential back (some services do)."""
    if provider == "clearinghouse":
        return {"detail": f"Error {status} for token {CANARIES['CLEARINGHOUSE_API_TOKEN']}."}
    if provider == "commcare":
        return {"error": f"Error {status} for key {CANARIES['COMMCARE_API_KEY']}"}
    kind = "client_error" if status < 500 else "server_error"
    code = {401: "not_authenticated", 403: "permission_denied", 404: "not_found"}.get(status, "error")
    return error_body(kind, code, f"Error {status} for Api-Key {CANARIES['CERTN_API_KEY']}.")


@dataclass(frozen=True)
class FaultCase:
    name: str
    spec: dict[str, Any]
    transient: bool = False  # injected once: the retry must succeed
    category: str | None = None  # persistent: the typed failure expected
    retryable: bool = True
    retried: bool = False  # persistent: every attempt of the policy reaches the provider
    retry_after: float | None = None
    slow: bool = False
    server_deadline: bool = False  # the server's own per-call deadline is what fires
    body: bool = False  # the fault's body is the provider's error format (with a canary in it)
    marks: tuple[Any, ...] = field(default=())

    def fault(self, provider: str) -> dict[str, Any]:
        spec = dict(self.spec, times=1 if self.transient else 99)
        if self.body:
            spec["body"] = provider_body(provider, spec.get("status", 503))
        return spec


FAULTS: list[FaultCase] = [
    # Retried, then success.
    FaultCase("429-short-retry-after", {"kind": "status", "status": 429, "headers": {"Retry-After": "0"}}, True),
    FaultCase("502-once", {"kind": "status", "status": 502}, True, body=True),
    FaultCase("503-once", {"kind": "status", "status": 503}, True, body=True),
    FaultCase("504-once", {"kind": "status", "status": 504}, True, body=True),
    FaultCase("html-502-once", {"kind": "html", "status": 502}, True),
    FaultCase("connection-reset-once", {"kind": "drop"}, True),
    FaultCase("read-timeout-once", {"kind": "latency", "seconds": FAULT_POLICY.read_timeout * 1.5}, True, slow=True),
    # Typed failures.
    FaultCase(
        "429-long-retry-after",
        {"kind": "status", "status": 429, "headers": {"Retry-After": "90"}},
        category="rate_limited",
        retry_after=90,
        body=True,
    ),
    FaultCase("500", {"kind": "status", "status": 500}, category="provider_unavailable", retried=True, body=True),
    FaultCase("502", {"kind": "status", "status": 502}, category="provider_unavailable", retried=True, body=True),
    FaultCase("503", {"kind": "status", "status": 503}, category="provider_unavailable", retried=True, body=True),
    FaultCase("504", {"kind": "status", "status": 504}, category="provider_unavailable", retried=True, body=True),
    FaultCase("html-error-page", {"kind": "html", "status": 502}, category="provider_unavailable", retried=True),
    FaultCase("connection-reset", {"kind": "drop"}, category="provider_unavailable", retried=True),
    FaultCase("malformed-json", {"kind": "malformed"}, category="malformed_response"),
    FaultCase("401", {"kind": "status", "status": 401}, category="authentication", retryable=False, body=True),
    FaultCase("403", {"kind": "status", "status": 403}, category="authentication", retryable=False, body=True),
    FaultCase("404", {"kind": "status", "status": 404}, category="not_found", retryable=False, body=True),
    FaultCase(
        "read-timeout",
        {"kind": "latency", "seconds": FAULT_POLICY.read_timeout * 1.5},
        category="timeout",
        slow=True,
    ),
    FaultCase(
        "slow-past-call-deadline",
        # Each answer comes inside the read timeout, but the whole call would not fit its deadline.
        {"kind": "latency", "seconds": FAULT_POLICY.read_timeout * 0.9},
        category="timeout",
        slow=True,
        server_deadline=True,
    ),
]
SERVER_DEADLINE = FAULT_POLICY.read_timeout * 0.5


def refs(emulators: CanaryEmulators) -> dict[str, str]:
    from casebridge.sandbox.commcare.data import dataset

    certn = emulators["certn"].store  # type: ignore[attr-defined]
    normal = next(c for c in certn.ordered() if not c.id.startswith("4c0ffee0"))
    return {
        "clearinghouse": "clearinghouse:15150",
        "commcare": f"commcare:{dataset(2026).cases[0].case_id}",
        "certn": f"certn:{normal.id}",
    }


def read_args(tool: str, provider: str, emulators: CanaryEmulators) -> dict[str, Any]:
    if tool == "search_cases":
        return {"provider": provider, "limit": 2}
    return {"ref": refs(emulators)[provider]}


@pytest.fixture(scope="module")
def fault_server(canary_emulators: CanaryEmulators, tmp_path_factory: pytest.TempPathFactory) -> CasebridgeServer:
    return canary_server(canary_emulators, casebridge_data_dir=tmp_path_factory.mktemp("ledger"))


@pytest.fixture(scope="module")
async def clients(fault_server: CasebridgeServer) -> AsyncIterator[dict[str, Client]]:
    async with hold(Client(fault_server, mode="legacy")) as legacy, hold(Client(fault_server, mode="auto")) as auto:  # type: ignore[arg-type]
        yield {"legacy": legacy, "auto": auto}


def matrix() -> list[Any]:
    params = []
    for provider in PROVIDERS:
        for tool in READ_TOOLS:
            for case in FAULTS:
                # Slow faults cost real seconds: one era is enough for them; the rest run in both.
                for era in ["auto"] if case.slow else ERAS:
                    params.append(pytest.param(provider, tool, case, era, id=f"{provider}-{tool}-{case.name}-{era}"))
    return params


@pytest.mark.parametrize(("provider", "tool", "case", "era"), matrix())
async def test_read_tool_under_fault(
    canary_emulators: CanaryEmulators,
    fault_server: CasebridgeServer,
    clients: dict[str, Client],
    provider: str,
    tool: str,
    case: FaultCase,
    era: str,
) -> None:
    client = clients[era]
    emus = canary_emulators
    args = read_args(tool, provider, emus)
    emus.reset()
    emus[provider].inject(**case.fault(provider))
    saved_deadline = fault_server.tool_deadline
    if case.server_deadline:
        fault_server.tool_deadline = SERVER_DEADLINE
    try:
        result = await client.call_tool(tool, args)
    finally:
        fault_server.tool_deadline = saved_deadline
    seen = emus.request_count()
    assert_no_canary(result.model_dump(), f"{tool} result under {case.name}")
    assert all(n == 0 for name, n in seen.items() if name != provider), seen  # no other provider was asked

    if case.transient:
        assert not result.is_error, text_of(result)
        assert seen[provider] == 2, f"expected one retry, saw {seen[provider]} requests"
    else:
        error = error_of(result)
        assert error["category"] == case.category, error
        assert error["provider"] == provider, error
        assert error["retryable"] is case.retryable, error
        if case.retry_after is not None:
            assert error["retry_after_seconds"] == case.retry_after, error
        if case.slow:
            pass  # attempts depend on where the deadline fell; the timeout category is the proof
        elif case.retried:
            assert seen[provider] == FAULT_POLICY.attempts, seen
        else:
            assert seen[provider] == 1, f"{case.name} must not be retried; saw {seen[provider]} requests"

    # The server answers the next call normally.
    emus.reset()
    again = await client.call_tool(tool, args)
    assert not again.is_error, text_of(again)
    assert_no_canary(again.model_dump(), f"{tool} result after {case.name}")


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_resource_read_under_fault_is_clean(
    canary_emulators: CanaryEmulators, clients: dict[str, Client], provider: str
) -> None:
    """case:// resources: a provider failure is an error naming the problem, never a credential."""
    from mcp.shared.exceptions import MCPError

    ref = refs(canary_emulators)[provider]
    uri = "case://" + ref.replace(":", "/", 1)
    client = clients["auto"]
    for status in (401, 404, 500):
        canary_emulators.reset()
        canary_emulators[provider].inject(kind="status", status=status, times=99, body=provider_body(provider, status))
        with pytest.raises(MCPError) as info:
            await client.read_resource(uri)
        assert_no_canary(info.value, f"resource error {status}")
    canary_emulators.reset()
    contents = await client.read_resource(uri)
    assert ref in contents.contents[0].text  # type: ignore[union-attr]
    assert_no_canary(contents.model_dump(), "resource")


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_provider_exceptions_carry_no_credential(canary_emulators: CanaryEmulators, provider: str) -> None:
    """The typed exceptions themselves (message, repr, chained causes, traceback) hold no canary."""
    from casebridge.server.wiring import build_registry

    registry = build_registry(canary_emulators.settings(), policy=FAULT_POLICY, read_only=True)
    source = registry.get(provider)
    case_id = refs(canary_emulators)[provider].split(":", 1)[1]
    try:
        for case in FAULTS:
            if case.transient or case.slow:
                continue
            canary_emulators.reset()
            canary_emulators[provider].inject(**case.fault(provider))
            with pytest.raises(ProviderError) as info:
                await source.get(case_id, frozenset())
            text = "".join(traceback.format_exception(info.value))
            assert_no_canary(info.value, f"{provider} exception under {case.name}")
            assert_no_canary(text, f"{provider} traceback under {case.name}")
    finally:
        canary_emulators.reset()
        await registry.aclose()


def test_write_tools_are_in_the_matrix_when_registered() -> None:
    """A reminder with teeth: once a write tool exists, test_write_faults must know how to call it."""
    from pathlib import Path

    import casebridge.tools.__init__ as tools_init
    from tests.reliability.test_write_faults import WRITE_RECIPES

    source = Path(tools_init.__file__).read_text()
    for name in WRITE_TOOLS:
        if name in source:
            assert name in WRITE_RECIPES, f"{name} is registered: add its recipe to test_write_faults.WRITE_RECIPES"
