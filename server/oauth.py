"""OAuth 2.1 resource server for the HTTP transports: JWT access tokens checked against the issuer's JWKS.

The SDK's ``AuthSettings`` and bearer middleware do the HTTP part (401/403, the caller in every request);
this module verifies tokens (``JwtVerifier``) and serves the RFC 9728 metadata naming both scopes.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio
import httpx2 as httpx
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.types import ListToolsResult

from casebridge.tools.errors import ToolFailure

if TYPE_CHECKING:
    import jwt  # PyJWT, imported on first use: about 35 ms that stdio start-up does not need

log = logging.getLogger("casebridge.oauth")

SCOPE_READ = "cases:read"
SCOPE_WRITE = "cases:write"
SCOPES = [SCOPE_READ, SCOPE_WRITE]
CLOCK_SKEW_SECONDS = 30  # leeway on exp, nbf and iat between this server's clock and the issuer's
METADATA_PATH = "/.well-known/oauth-protected-resource"
MAX_DOCUMENT_BYTES = 256 * 1024  # issuer metadata or a JWKS; real ones are a few kB
# Signature algorithms per key type; HMAC and "none" are never accepted (the JWKS holds public keys).
ALGORITHMS = {
    "RSA": ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"],
    "EC": ["ES256", "ES384", "ES512"],
    "OKP": ["EdDSA"],
}


class OAuthConfigError(Exception):
    """The OAuth variables are set only in part, or inconsistently (one line, for stderr)."""


@dataclass(frozen=True)
class OAuthConfig:
    issuer: str
    resource_url: str  # the audience every token must name
    jwks_url: str | None = None  # None: found in the issuer's metadata

    @classmethod
    def from_settings(cls, settings: Any) -> OAuthConfig | None:
        """The OAuth set-up the settings ask for; None when no OAuth variable is set."""
        issuer = settings.casebridge_oauth_issuer
        jwks_url = settings.casebridge_oauth_jwks_url
        resource = settings.casebridge_resource_url
        if not (issuer or jwks_url or resource):
            return None
        if not issuer or not resource:
            named = (("CASEBRIDGE_OAUTH_ISSUER", issuer), ("CASEBRIDGE_RESOURCE_URL", resource))
            missing = [name for name, value in named if not value]
            raise OAuthConfigError(
                f"OAuth needs {' and '.join(missing)} (the issuer is checked in every token and named in this "
                "server's metadata; the resource URL is the audience tokens must carry)"
            )
        for name, url in (("CASEBRIDGE_OAUTH_ISSUER", issuer), ("CASEBRIDGE_RESOURCE_URL", resource)):
            if urlsplit(url).scheme not in ("https", "http") or not urlsplit(url).netloc:
                raise OAuthConfigError(f"{name} must be an absolute http(s) URL")
        if settings.casebridge_http_token is not None:
            raise OAuthConfigError("set either CASEBRIDGE_HTTP_TOKEN or the OAuth variables, not both")
        return cls(issuer=issuer, resource_url=resource, jwks_url=jwks_url)

    def auth_settings(self) -> AuthSettings:
        return AuthSettings(
            issuer_url=self.issuer,
            resource_server_url=self.resource_url,
            required_scopes=[SCOPE_READ],
            validate_token_resource=True,
        )


class JwtVerifier:
    """``TokenVerifier`` for JWT access tokens (RFC 9068) signed by a key in the issuer's JWKS.

    The JWKS is fetched on first use, kept for ``cache_seconds``, and fetched again when a token names
    an unknown ``kid`` (key rotation), at most once per ``min_refresh_seconds`` so tokens with made-up
    kids cannot make this server hammer the issuer. Any failure means "no valid token" (401).
    """

    def __init__(
        self,
        config: OAuthConfig,
        *,
        cache_seconds: float = 3600.0,
        min_refresh_seconds: float = 5.0,
        leeway: float = CLOCK_SKEW_SECONDS,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.config = config
        self.cache_seconds = cache_seconds
        self.min_refresh_seconds = min_refresh_seconds
        self.leeway = leeway
        self._http = http or httpx.AsyncClient(timeout=5.0, follow_redirects=False)
        self._keys: dict[str, _Key] = {}
        self._fetched_at: float | None = None
        self._jwks_url = config.jwks_url
        self._lock = anyio.Lock()
        self.fetches = 0  # JWKS downloads so far (tests and logs)

    async def verify_token(self, token: str) -> AccessToken | None:
        import jwt

        try:
            return await self._verify(token)
        except (jwt.PyJWTError, OAuthFetchError, ValueError, TypeError) as exc:
            log.info("refused a bearer token: %s", _reason(exc))
            return None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _verify(self, token: str) -> AccessToken:
        import jwt

        header = jwt.get_unverified_header(token)
        key = await self._key_for(header.get("kid"))
        audiences = {self.config.resource_url, self.config.resource_url.rstrip("/"), self.config.resource_url + "/"}
        claims = jwt.decode(
            token,
            key=key.jwk.key,
            algorithms=key.algorithms,
            audience=sorted(audiences),
            issuer=self.config.issuer,
            leeway=self.leeway,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
        subject = str(claims["sub"])
        client_id = claims.get("client_id") or claims.get("azp") or subject
        return AccessToken(
            token=token,
            client_id=str(client_id),
            scopes=_scopes(claims),
            expires_at=int(claims["exp"]),
            resource=self.config.resource_url,  # aud named it (spelled with or without a final slash)
            subject=subject,
            claims={"iss": claims["iss"]},
        )

    async def _key_for(self, kid: Any) -> _Key:
        now = anyio.current_time()
        stale = self._fetched_at is None or now - self._fetched_at > self.cache_seconds
        if stale or not self._has(kid):
            async with self._lock:  # one download for a burst of requests
                now = anyio.current_time()
                fresh = self._fetched_at is not None and now - self._fetched_at < self.min_refresh_seconds
                expired = self._fetched_at is None or now - self._fetched_at > self.cache_seconds
                if expired or (not self._has(kid) and not fresh):
                    self._keys = await self._fetch_keys()
                    self._fetched_at = anyio.current_time()
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        if not isinstance(kid, str) or kid not in self._keys:
            raise ValueError("the token's kid is not in the issuer's JWKS")
        return self._keys[kid]

    def _has(self, kid: Any) -> bool:
        return (kid is None and len(self._keys) == 1) or (isinstance(kid, str) and kid in self._keys)

    async def _fetch_keys(self) -> dict[str, _Key]:
        if self._jwks_url is None:
            self._jwks_url = await self._discover_jwks_url()
        self.fetches += 1
        document = await self._get_json(self._jwks_url)
        import jwt

        keys: dict[str, _Key] = {}
        for data in document.get("keys", []) if isinstance(document, dict) else []:
            if not isinstance(data, dict) or data.get("use", "sig") != "sig" or data.get("kty") not in ALGORITHMS:
                continue
            family = ALGORITHMS[data["kty"]]
            declared = data.get("alg")
            if declared is not None and declared not in family:
                continue  # an HMAC or unknown algorithm on a public key: never trusted
            try:
                jwk = jwt.PyJWK(data)
            except jwt.PyJWTError:
                continue  # a key this library cannot use: skip it, not the whole set
            keys[str(jwk.key_id)] = _Key(jwk, [declared] if declared else family)  # no kid: "None"
        if not keys:
            raise OAuthFetchError("the issuer's JWKS holds no usable signing key")
        return keys

    async def _discover_jwks_url(self) -> str:
        """The ``jwks_uri`` of the issuer's RFC 8414 metadata, else of its OpenID Connect discovery document."""
        issuer = self.config.issuer
        parts = urlsplit(issuer)
        path = parts.path.rstrip("/")
        origin = f"{parts.scheme}://{parts.netloc}"
        candidates = [
            f"{origin}/.well-known/oauth-authorization-server{path}",  # RFC 8414 §3.1: inserted before the path
            f"{origin}/.well-known/openid-configuration{path}",
            f"{issuer.rstrip('/')}/.well-known/openid-configuration",  # OpenID Connect Discovery 1.0 §4
        ]
        for url in dict.fromkeys(candidates):
            try:
                metadata = await self._get_json(url)
            except OAuthFetchError:
                continue
            if not isinstance(metadata, dict) or metadata.get("issuer") != issuer:
                continue  # RFC 8414 §3.3: metadata for another issuer must not be used
            jwks_uri = metadata.get("jwks_uri")
            if isinstance(jwks_uri, str) and urlsplit(jwks_uri).scheme in ("https", "http"):
                return jwks_uri
        raise OAuthFetchError(f"no metadata with a jwks_uri for the issuer {issuer}")

    async def _get_json(self, url: str) -> Any:
        try:
            async with self._http.stream("GET", url, headers={"accept": "application/json"}) as response:
                if response.status_code != 200:
                    raise OAuthFetchError(f"{url} answered HTTP {response.status_code}")
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_DOCUMENT_BYTES:
                        raise OAuthFetchError(f"{url} answered more than {MAX_DOCUMENT_BYTES} bytes")
        except httpx.HTTPError as exc:
            raise OAuthFetchError(f"{url}: {type(exc).__name__}") from exc
        try:
            return json.loads(body)
        except ValueError as exc:
            raise OAuthFetchError(f"{url} did not answer JSON") from exc


@dataclass(frozen=True)
class _Key:
    jwk: jwt.PyJWK
    algorithms: list[str]  # the JWK's own alg, else every algorithm of its key type


class OAuthFetchError(Exception):
    """The issuer's metadata or JWKS could not be fetched or used."""


def _scopes(claims: dict[str, Any]) -> list[str]:
    """RFC 9068 ``scope`` (space-separated), or the ``scp`` list some issuers send."""
    scope = claims.get("scope")
    if isinstance(scope, str):
        return scope.split()
    scp = claims.get("scp")
    if isinstance(scp, list):
        return [s for s in scp if isinstance(s, str)]
    return scp.split() if isinstance(scp, str) else []


def _reason(exc: Exception) -> str:
    """Why a token was refused, for the log: the error's kind and message, never the token."""
    return f"{type(exc).__name__}: {str(exc)[:200]}"


class ResourceMetadata:
    """Serves RFC 9728 metadata at ``/.well-known/oauth-protected-resource`` and at that path plus the
    resource's path (where RFC 9728 §3.1 puts it, and where the 401's ``resource_metadata`` points)."""

    def __init__(self, app: Any, config: OAuthConfig) -> None:
        self.app = app
        resource_path = urlsplit(config.resource_url).path.rstrip("/")
        self.paths = {METADATA_PATH, METADATA_PATH + resource_path}
        document = {
            "resource": config.resource_url,
            "authorization_servers": [config.issuer],
            "scopes_supported": SCOPES,
            "bearer_methods_supported": ["header"],
            "resource_name": "casebridge",
        }
        self.body = json.dumps(document).encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(self.body)).encode()),
            (b"cache-control", b"public, max-age=3600"),
            (b"access-control-allow-origin", b"*"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": self.body if scope["method"] == "GET" else b""})


WRITE_TOOLS = frozenset({"order_case", "cancel_case", "generate_report", "update_case"})


def granted_scopes(request: Any) -> list[str] | None:
    """The scopes of this HTTP request's OAuth token; None where the transport does not authenticate callers."""
    user = request.scope.get("user") if request is not None and hasattr(request, "scope") else None
    return list(user.scopes) if isinstance(user, AuthenticatedUser) else None


def missing_write_scope(request: Any, tool: str) -> ToolFailure | None:
    """The refusal of a write tool called with a token that lacks ``cases:write``; None when it may run."""
    scopes = granted_scopes(request)
    if tool not in WRITE_TOOLS or scopes is None or SCOPE_WRITE in scopes:
        return None
    return ToolFailure(
        "authentication",
        f"{tool} needs the OAuth scope {SCOPE_WRITE}, which this sign-in did not grant (insufficient_scope); "
        "nothing was changed",
        fix=f"Sign in again asking for the scope {SCOPE_WRITE}, or ask an administrator to grant it.",
    )


async def scope_gate(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Installed only with OAuth: without ``cases:write`` a caller is not offered the write tools.

    (Calling one anyway is refused by ``CasebridgeServer.call_tool`` with ``missing_write_scope``.)
    """
    result = await call_next(ctx)
    scopes = granted_scopes(ctx.request)
    if ctx.method != "tools/list" or scopes is None or SCOPE_WRITE in scopes:
        return result
    if isinstance(result, dict) and isinstance(result.get("tools"), list):  # the wire form, already serialized
        return {**result, "tools": [t for t in result["tools"] if t.get("name") not in WRITE_TOOLS]}
    if isinstance(result, ListToolsResult):
        return result.model_copy(update={"tools": [t for t in result.tools if t.name not in WRITE_TOOLS]})
    return result
