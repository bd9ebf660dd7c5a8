"""Write tools under faults: a request that may have reached the provider is never sent again.

For every registered write tool and every way the provider's answer can go wrong, the emulator's
request log must show exactly one POST per call (httpx-level retries or tool-level re-sends would
show more); the call ends in success or a typed isError; and the next identical call neither fails
strangely nor, for orders, buys a second check. Credentials are canaries.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from casebridge.sandbox.certn.app import error_body
from casebridge.server.app import CasebridgeServer
from tests.reliability.harness import (
    CANARIES,
    FAULT_POLICY,
    CanaryEmulators,
    assert_no_canary,
    canary_server,
    error_of,
)
from tests.support import hold, text_of

ORDER = "/api/public/cases/order/"
SLOW = FAULT_POLICY.read_timeout * 1.5


@dataclass(frozen=True)
class WriteFault:
    name: str
    spec: dict[str, Any]
    on_get: bool = False  # the fault hits the reads the tool makes before writing, not the POST


WRITE_FAULTS = [
    WriteFault("500", {"kind": "status", "status": 500}),
    WriteFault("502", {"kind": "status", "status": 502}),
    WriteFault("503", {"kind": "status", "status": 503}),
    WriteFault("504", {"kind": "status", "status": 504}),
    WriteFault("429-retry-after-0", {"kind": "status", "status": 429, "headers": {"Retry-After": "0"}}),
    WriteFault("html-502", {"kind": "html", "status": 502}),
    WriteFault("connection-reset", {"kind": "drop"}),
    WriteFault("lost-response", {"kind": "lose_response"}),
    WriteFault("read-timeout", {"kind": "latency", "seconds": SLOW}),
    WriteFault("malformed-json", {"kind": "malformed"}),
    WriteFault(
        "401",
        {
            "kind": "status",
            "status": 401,
            "body": error_body("client_error", "not_authenticated", f"Invalid API key {CANARIES['CERTN_API_KEY']}"),
        },
    ),
    WriteFault(
        "400",
        {
            "kind": "status",
            "status": 400,
            "body": error_body("validation_error", "invalid", "Enter a valid email.", "email"),
        },
    ),
    WriteFault("reads-unavailable", {"kind": "status", "status": 503}, on_get=True),
]


# A recipe prepares one write (unfaulted) and returns (confirmed arguments, path of the POST it makes).
Recipe = Callable[[Client, CanaryEmulators, str], Awaitable[tuple[dict[str, Any], str]]]


def order_args(label: str) -> dict[str, Any]:
    return {
        "applicant": {"email": f"w.{label}@example.com", "given_name": "Wanda", "family_name": "Fault"},
        "invite": "email_invite",
        "check_types": ["criminal record check"],
    }


async def confirmed(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    quoted = await client.call_tool(tool, args)
    assert not quoted.is_error, text_of(quoted)
    data = quoted.structured_content or {}
    assert data.get("status") == "confirmation_required", data
    return {**args, "confirmation_token": data["confirmation_token"]}


async def place(client: Client, label: str) -> str:
    result = await client.call_tool("order_case", await confirmed(client, "order_case", order_args(label)))
    assert not result.is_error, text_of(result)
    return str(result.structured_content["case"]["ref"])  # type: ignore[index]


async def order_recipe(client: Client, emus: CanaryEmulators, label: str) -> tuple[dict[str, Any], str]:
    return await confirmed(client, "order_case", order_args(label)), ORDER


async def cancel_recipe(client: Client, emus: CanaryEmulators, label: str) -> tuple[dict[str, Any], str]:
    ref = await place(client, label)
    case_id = ref.split(":", 1)[1]
    return await confirmed(client, "cancel_case", {"ref": ref}), f"/api/public/cases/{case_id}/cancel/"


async def report_recipe(client: Client, emus: CanaryEmulators, label: str) -> tuple[dict[str, Any], str]:
    ref = await place(client, label)
    return {"ref": ref}, f"/api/public/cases/{ref.split(':', 1)[1]}/generate-report/"


WRITE_RECIPES: dict[str, Recipe] = {
    "order_case": order_recipe,
    "cancel_case": cancel_recipe,
    "generate_report": report_recipe,
}


@pytest.fixture(scope="module")
def write_server(canary_emulators: CanaryEmulators, tmp_path_factory: pytest.TempPathFactory) -> CasebridgeServer:
    from casebridge.tools.actions import ActionSettings

    data_dir: Path = tmp_path_factory.mktemp("write-ledger")
    fast = ActionSettings(inflight_wait=5.0, poll_interval=0.02, report_wait=0.3, report_poll=0.05)
    return canary_server(canary_emulators, casebridge_data_dir=data_dir, actions=fast)


@pytest.fixture(scope="module")
async def client(write_server: CasebridgeServer) -> AsyncIterator[Client]:
    async with hold(Client(write_server, mode="auto")) as c:  # type: ignore[arg-type]
        yield c


@pytest.fixture(scope="module")
async def registered(client: Client) -> set[str]:
    return {t.name for t in (await client.list_tools()).tools}


@pytest.mark.parametrize("fault", WRITE_FAULTS, ids=lambda f: f.name)
@pytest.mark.parametrize("tool", list(WRITE_RECIPES))
async def test_write_tool_under_fault_posts_once(
    canary_emulators: CanaryEmulators,
    client: Client,
    registered: set[str],
    write_server: CasebridgeServer,
    tool: str,
    fault: WriteFault,
) -> None:
    if tool not in registered:
        pytest.skip(f"{tool} is not registered (yet)")
    emu = canary_emulators["certn"]
    canary_emulators.reset()
    label = f"{tool}.{fault.name}".replace("_", "-")
    args, post_path = await WRITE_RECIPES[tool](client, canary_emulators, label)
    emu.requests.clear()
    if fault.on_get:
        emu.inject(**fault.spec, times=99, method="GET")
    else:
        emu.inject(**fault.spec, times=99, method="POST", path=post_path)

    result = await client.call_tool(tool, args)

    posts = [r for r in emu.requests if r.method == "POST"]
    assert_no_canary(result.model_dump(), f"{tool} under {fault.name}")
    if fault.on_get and tool != "generate_report":
        assert posts == [], f"{tool} wrote although it could not read first"
    else:
        assert [r.path for r in posts] == [post_path], f"{tool} sent {len(posts)} POSTs under {fault.name}"
    if result.is_error:
        error = error_of(result)
        assert error["provider"] == "certn", error
    canary_emulators.reset()
    if fault.name == "read-timeout":
        await anyio.sleep(SLOW)  # let the emulator finish the request it was still serving

    # The next identical call: no second check bought, no strange failure.
    if tool == "order_case":
        fresh = {k: v for k, v in args.items() if k != "confirmation_token"}
        again = await client.call_tool(tool, fresh)  # a new quote, or the order it already placed
        assert not again.is_error, text_of(again)
        if (again.structured_content or {}).get("status") == "confirmation_required":
            again = await client.call_tool(
                tool, {**fresh, "confirmation_token": again.structured_content["confirmation_token"]}
            )  # type: ignore[index]
            assert not again.is_error, text_of(again)
        assert again.structured_content["status"] in ("ordered", "already_ordered"), again.structured_content  # type: ignore[index]
        email = args["applicant"]["email"]
        cases = [c for c in emu.store.ordered() if c.email_address == email]  # type: ignore[attr-defined]
        assert len(cases) == 1, f"{len(cases)} cases for one order after {fault.name}"
        assert [r.method for r in emu.requests].count("POST") <= 1
    elif tool == "cancel_case":
        ref = args["ref"]
        again = await client.call_tool(tool, await confirmed_or_done(client, ref))
        assert not again.is_error, text_of(again)
        detail = await client.call_tool("get_case", {"ref": ref})
        assert detail.structured_content["status"] == "Cancelled", text_of(detail)  # type: ignore[index]
    else:
        again = await client.call_tool(tool, args)
        assert not again.is_error, text_of(again)
    assert_no_canary(again.model_dump(), f"{tool} after {fault.name}")


async def confirmed_or_done(client: Client, ref: str) -> dict[str, Any]:
    quoted = await client.call_tool("cancel_case", {"ref": ref})
    data = quoted.structured_content or {}
    if data.get("status") == "confirmation_required":
        return {"ref": ref, "confirmation_token": data["confirmation_token"]}
    return {"ref": ref}  # already cancelled: the call answers so without asking


async def test_ledger_rows_carry_no_credential(
    write_server: CasebridgeServer, canary_emulators: CanaryEmulators
) -> None:
    """After the whole write matrix: every byte of the ledger files is free of canaries."""
    ledger = write_server.registry.ledger
    if ledger is None:
        pytest.skip("no ledger (write tools not registered)")
    path = Path(ledger.path)  # type: ignore[attr-defined]
    blobs = b"".join(p.read_bytes() for p in path.parent.iterdir() if p.is_file())
    assert blobs, "the ledger is empty: the matrix wrote nothing"
    assert_no_canary(blobs.decode("latin-1"), "ledger files")
    rows = ledger.recent(10_000)
    assert_no_canary(repr(rows), "ledger rows")
