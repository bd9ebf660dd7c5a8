"""The HTTP listening socket (bound before serving: a busy port is one clear error), the start-up line, loopback."""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
from typing import Any

import uvicorn

log = logging.getLogger("casebridge")

ENDPOINT_PATHS = {"http": "/mcp", "sse": "/sse"}
TRANSPORT_NAMES = {"http": "Streamable HTTP", "sse": "SSE"}
LOOPBACK_NAMES = {"localhost"}


class PortUnavailable(Exception):
    """The address cannot be listened on; the message is the one line shown to the user."""


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port`` (not yet listening), or ``PortUnavailable``."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise PortUnavailable(f"cannot listen on {host}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: a restart may rebind at once
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortUnavailable(
                f"port {port} on {host} is already in use: stop what is serving there, or choose another with --port"
            ) from None
        raise PortUnavailable(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def base_url(sock: socket.socket) -> str:
    """``http://host:port`` of a bound socket (the port the system chose when 0 was asked for)."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


class AnnouncingServer(uvicorn.Server):
    """uvicorn's server on a socket bound beforehand; ``announce`` runs once it accepts connections."""

    def __init__(self, config: uvicorn.Config, sock: socket.socket, announce: Any) -> None:
        super().__init__(config)
        self._sock = sock
        self._announce = announce

    async def serve_bound(self) -> None:
        await self.serve(sockets=[self._sock])

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and not self.should_exit:
            self._announce()


def transport_security(host: str) -> Any:
    """Host/Origin checks against DNS rebinding for a loopback bind (None elsewhere: a token is required).

    The SDK switches them on by itself only for 127.0.0.1, localhost and ::1; any other loopback
    address (127.0.0.2, ...) would otherwise be served to a rebinding browser page.
    """
    if not is_loopback(host):
        return None
    from mcp.server.transport_security import TransportSecuritySettings

    names = ["127.0.0.1", "localhost", "[::1]"]
    own = f"[{host}]" if ":" in host else host
    if own not in names:
        names.append(own)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[f"{name}:*" for name in names],
        allowed_origins=[f"http://{name}:*" for name in names],
    )


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
