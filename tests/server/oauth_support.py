"""A tiny authorization server for the OAuth tests: its own signing keys, RFC 8414 metadata and JWKS on loopback."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from casebridge.sandbox.emulation import LoopbackServer

RESOURCE_PATH = "/mcp"


class SigningKey:
    def __init__(self, kind: str = "RSA", kid: str | None = None) -> None:
        self.kid = kid or uuid.uuid4().hex[:12]
        if kind == "RSA":
            self.private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.alg = "RS256"
            self.jwk = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        else:
            self.private = ec.generate_private_key(ec.SECP256R1())
            self.alg = "ES256"
            self.jwk = json.loads(ECAlgorithm.to_jwk(self.private.public_key()))
        self.jwk.update({"kid": self.kid, "use": "sig", "alg": self.alg})


class Issuer:
    """Serves ``/.well-known/oauth-authorization-server`` and ``/jwks``; signs tokens with its keys."""

    def __init__(self, *, openid_only: bool = False) -> None:
        self.keys = [SigningKey("RSA"), SigningKey("EC")]
        self.jwks_requests = 0
        self.openid_only = openid_only
        self.server = LoopbackServer(self._app())
        self.url = self.server.url  # the issuer identifier

    def _app(self) -> Starlette:
        async def metadata(request: Request) -> Response:
            if self.openid_only and "oauth-authorization-server" in request.url.path:
                return Response(status_code=404)
            return JSONResponse(
                {
                    "issuer": self.url,
                    "authorization_endpoint": f"{self.url}/authorize",
                    "token_endpoint": f"{self.url}/token",
                    "jwks_uri": f"{self.url}/jwks",
                    "response_types_supported": ["code"],
                }
            )

        async def jwks(request: Request) -> Response:
            self.jwks_requests += 1
            return JSONResponse({"keys": [key.jwk for key in self.keys]})

        return Starlette(
            routes=[
                Route("/.well-known/oauth-authorization-server", metadata),
                Route("/.well-known/openid-configuration", metadata),
                Route("/jwks", jwks),
            ]
        )

    def start(self) -> Issuer:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def token(
        self,
        resource: str,
        *,
        sub: str = "alice",
        scope: str = "cases:read cases:write",
        key: SigningKey | None = None,
        lifetime: float = 300,
        **claims: Any,
    ) -> str:
        key = key or self.keys[0]
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": self.url,
            "aud": resource,
            "sub": sub,
            "client_id": "claude",
            "scope": scope,
            "iat": now,
            "exp": now + int(lifetime),
            "jti": uuid.uuid4().hex,
        }
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, key.private, algorithm=key.alg, headers={"kid": key.kid})
