"""The read tools against a hostile provider, for all three providers in both protocol eras.

Every hostile answer (huge, gzip bomb, deep or non-UTF-8 JSON, slow drip) is an actionable
``isError`` result, endless pages cost a bounded number of requests, and the server answers the
next call normally.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import pytest
from mcp import Client

from casebridge.sandbox.faults import hostile_text
from casebridge.server.app import CasebridgeServer
from tests.reliability.harness import CANARIES, FAULT_POLICY, PROVIDERS, CanaryEmulators, canary_server, error_of
from tests.support import ERAS, hold, text_of

MiB = 1024 * 1024
# A 1 MiB cap keeps the huge answers quick; the drip's bytes come well inside the read timeout.
POLICY = replace(FAULT_POLICY, max_body_bytes=MiB, read_timeout=5.0, deadline=1.5)

HOSTILE: dict[str, tuple[dict[str, Any], str]] = {
    "huge": ({"kind": "huge", "size": 32 * MiB}, "malformed_response"),
    "gzip_bomb": ({"kind": "gzip_bomb", "size": 64 * MiB}, "malformed_response"),
    "deep_json": ({"kind": "deep_json"}, "malformed_response"),
    "invalid_utf8": ({"kind": "invalid_utf8"}, "malformed_response"),
    "slow_drip": ({"kind": "slow_drip", "seconds": 0.05}, "timeout"),
}


@pytest.fixture(scope="module")
def hostile_server(canary_emulators: CanaryEmulators, tmp_path_factory: pytest.TempPathFactory) -> CasebridgeServer:
    return canary_server(canary_emulators, policy=POLICY, casebridge_data_dir=tmp_path_factory.mktemp("ledger"))


@pytest.fixture(scope="module")
async def clients(hostile_server: CasebridgeServer) -> AsyncIterator[dict[str, Client]]:
    async with hold(Client(hostile_server, mode="legacy")) as legacy, hold(Client(hostile_server, mode="auto")) as auto:  # type: ignore[arg-type]
        yield {"legacy": legacy, "auto": auto}


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("fault", list(HOSTILE))
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_hostile_answer_is_an_actionable_error(
    canary_emulators: CanaryEmulators, clients: dict[str, Client], provider: str, fault: str, era: str
) -> None:
    spec, category = HOSTILE[fault]
    canary_emulators.reset()
    canary_emulators[provider].inject(**spec, times=99)
    result = await clients[era].call_tool("search_cases", {"provider": provider, "limit": 2})
    error = error_of(result)
    assert error["category"] == category and error["provider"] == provider, error
    if fault in ("huge", "gzip_bomb"):
        assert "larger than 1 MiB" in error["message"] and error["retryable"] is False, error
    canary_emulators.reset()
    again = await clients[era].call_tool("search_cases", {"provider": provider, "limit": 2})
    assert not again.is_error, text_of(again)


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_endless_pages_cost_a_bounded_number_of_requests(
    canary_emulators: CanaryEmulators, clients: dict[str, Client], provider: str, era: str
) -> None:
    canary_emulators.reset()
    canary_emulators[provider].inject(kind="endless_pages", times=999)
    result = await clients[era].call_tool("search_cases", {"provider": provider, "limit": 50})
    requests = canary_emulators.request_count()[provider]
    assert requests <= 10, f"{requests} requests for one search_cases call"
    if result.is_error:
        error_of(result)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_injected_text_in_every_field_does_not_break_a_search(
    canary_emulators: CanaryEmulators, clients: dict[str, Client], provider: str
) -> None:
    key = {"clearinghouse": "CLEARINGHOUSE_API_TOKEN", "commcare": "COMMCARE_API_KEY", "certn": "CERTN_API_KEY"}
    canary_emulators.reset()
    canary_emulators[provider].inject(kind="inject", body=hostile_text(CANARIES[key[provider]]), times=99)
    result = await clients["auto"].call_tool("search_cases", {"provider": provider, "limit": 5})
    if result.is_error:
        error_of(result)
    else:
        assert result.structured_content, text_of(result)
    # The provider echoed the key in every field: no form of it reaches the model (server-side last line).
    secret = CANARIES[key[provider]]
    raw = secret.encode()
    forms = [
        secret,
        quote(secret, safe=""),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        raw.hex(),
        secret[1:11],
    ]
    seen = (text_of(result) + json.dumps(result.structured_content, ensure_ascii=False)).lower()
    for form in forms:
        assert form.lower() not in seen, f"{form!r} reached the model"
