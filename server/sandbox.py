"""The sandbox: the three emulators, in-process for ``--sandbox`` or on loopback for other clients."""

from __future__ import annotations

from typing import TypeVar

from casebridge.providers.http import ASGITransport, AsyncBaseTransport
from casebridge.sandbox.emulation import Emulator
from casebridge.server.settings import SettingsValues

S = TypeVar("S", bound=SettingsValues)

# Hosts that cannot resolve: sandbox requests never leave the process.
SANDBOX_HOST = "http://sandbox.invalid"


def build_emulators() -> dict[str, Emulator]:
    from casebridge.sandbox.certn import app as certn
    from casebridge.sandbox.clearinghouse import app as clearinghouse
    from casebridge.sandbox.commcare import app as commcare

    return {"clearinghouse": clearinghouse.build(), "commcare": commcare.build(), "certn": certn.build()}


def sandbox_settings(base: S, base_url: str = SANDBOX_HOST) -> S:
    """``base`` with every provider pointed at the emulators and their sandbox credentials."""
    from casebridge.sandbox.certn import app as certn
    from casebridge.sandbox.clearinghouse import app as clearinghouse
    from casebridge.sandbox.commcare import app as commcare

    return base.model_copy(
        update={
            "clearinghouse_api_token": _secret(clearinghouse.SANDBOX_TOKEN),
            "clearinghouse_base_url": f"{base_url}/api/v2p1",
            "commcare_username": commcare.SANDBOX_USERNAME,
            "commcare_api_key": _secret(commcare.SANDBOX_API_KEY),
            "commcare_domain": commcare.SANDBOX_DOMAIN,
            "commcare_base_url": base_url,
            "certn_api_key": _secret(certn.SANDBOX_API_KEY),
            "certn_base_url": base_url,
        }
    )


def in_process_transports(emulators: dict[str, Emulator]) -> dict[str, AsyncBaseTransport]:
    transports: dict[str, AsyncBaseTransport] = {}
    for name, emu in emulators.items():
        assert emu.app is not None
        transports[name] = ASGITransport(app=emu.app)
    return transports


def combined_app(emulators: dict[str, Emulator]):  # type: ignore[no-untyped-def]
    """One ASGI app serving all three emulators on one port (their paths do not overlap).

    Control routes are ``/_emulator/<provider>/faults`` and ``/_emulator/<provider>/requests``.
    """
    from starlette.types import Receive, Scope, Send

    routes = {
        "/api/v2p1": emulators["clearinghouse"],
        "/a/": emulators["commcare"],
        "/api/public": emulators["certn"],
    }

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path.startswith("/_emulator/"):
            _, _, name, *rest = path.split("/")
            emu = emulators.get(name)
            if emu is not None and emu.app is not None:
                await emu.app({**scope, "path": "/_emulator/" + "/".join(rest)}, receive, send)
                return
        else:
            for prefix, emu in routes.items():
                if path.startswith(prefix) and emu.app is not None:
                    await emu.app(scope, receive, send)
                    return
        await send({"type": "http.response.start", "status": 404, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    return app


def _secret(value: str):  # type: ignore[no-untyped-def]
    from pydantic import SecretStr

    return SecretStr(value)
