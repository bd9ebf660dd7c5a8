"""The sandbox: each provider's emulator, in-process for ``--sandbox`` or on loopback for other clients."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TypeVar

from casebridge.providers.http import ASGITransport, AsyncBaseTransport
from casebridge.server.settings import SettingsValues, settings_model
from casebridge.tools.catalog import BUILTIN, Catalog

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from casebridge.sandbox.emulation import Emulator

S = TypeVar("S", bound=SettingsValues)

# Hosts that cannot resolve: sandbox requests never leave the process.
SANDBOX_HOST = "http://sandbox.invalid"


def build_emulators(catalog: Catalog = BUILTIN) -> dict[str, Emulator]:
    return {spec.name: spec.sandbox.build() for spec in catalog}


def sandbox_settings(base: S, base_url: str = SANDBOX_HOST, *, catalog: Catalog = BUILTIN) -> S:
    """``base`` with every provider pointed at the emulators and their sandbox credentials.

    A ``base`` without the variables of a provider declared outside casebridge gets them (``settings_model``).
    """
    from pydantic import SecretStr

    model = settings_model(catalog)
    if not isinstance(base, model):
        base = model.model_validate({name: getattr(base, name) for name in base.model_fields_set})  # type: ignore[assignment]
    update: dict[str, object] = {}
    for spec in catalog:
        for name, value in spec.sandbox.variables(base_url).items():
            update[name] = SecretStr(value) if name in spec.secrets else value
    return base.model_copy(update=update)


def in_process_transports(emulators: dict[str, Emulator]) -> dict[str, AsyncBaseTransport]:
    transports: dict[str, AsyncBaseTransport] = {}
    for name, emu in emulators.items():
        assert emu.app is not None
        transports[name] = ASGITransport(app=emu.app)
    return transports


def combined_app(emulators: dict[str, Emulator], catalog: Catalog = BUILTIN) -> ASGIApp:
    """One ASGI app serving every emulator on one port (their paths do not overlap).

    Control routes are ``/_emulator/<provider>/faults`` and ``/_emulator/<provider>/requests``.
    """
    from starlette.types import Receive, Scope, Send

    routes = {spec.sandbox.prefix: emulators[spec.name] for spec in catalog if spec.name in emulators}

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


def announcement(base: str, catalog: Catalog = BUILTIN) -> str:
    """What ``casebridge sandbox`` prints once it serves at ``base``: the variables that point a server at it."""
    lines = [f"casebridge emulators (synthetic data) on {base}", "Point a casebridge server at them with:"]
    for spec in catalog:
        lines.append("  " + " ".join(f"{name.upper()}={value}" for name, value in spec.sandbox.variables(base).items()))
    lines.append(
        f"Faults: POST {base}/_emulator/<provider>/faults; requests seen: GET {base}/_emulator/<provider>/requests"
    )
    return "\n".join(lines) + "\n"


def serve_emulators(port: int, catalog: Catalog = BUILTIN) -> int:
    """``casebridge sandbox``: every emulator on one loopback port, until interrupted."""
    import contextlib

    import anyio
    import uvicorn

    from casebridge.server.http_listen import AnnouncingServer, PortUnavailable, base_url, bind

    try:
        sock = bind("127.0.0.1", port)
    except PortUnavailable as exc:
        sys.stderr.write(f"casebridge: {exc}\n")
        return 1
    base = base_url(sock)

    def announce() -> None:  # this command's own output, whatever the log level
        sys.stderr.write(announcement(base, catalog))
        sys.stderr.flush()

    config = uvicorn.Config(combined_app(build_emulators(catalog), catalog), log_level="warning", access_log=False)
    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(AnnouncingServer(config, sock, announce).serve_bound)
    return 0
