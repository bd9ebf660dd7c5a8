"""``JwtVerifier`` against a real issuer on loopback: real signed JWTs, its metadata and JWKS over HTTP.

Each refusal case is a token a real attacker or a misconfigured client could present.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import pytest

from casebridge.server.oauth import JwtVerifier, OAuthConfig, OAuthConfigError
from casebridge.server.settings import SettingsValues
from tests.server.oauth_support import Issuer, SigningKey

RESOURCE = "https://casebridge.example.org/mcp"


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    served = Issuer().start()
    yield served
    served.stop()


def verifier(issuer: Issuer, **kw: float) -> JwtVerifier:
    return JwtVerifier(OAuthConfig(issuer=issuer.url, resource_url=RESOURCE), **kw)


async def test_a_valid_token_names_the_caller_and_scopes(issuer: Issuer) -> None:
    v = verifier(issuer)
    for key in issuer.keys:  # RSA and EC
        token = await v.verify_token(issuer.token(RESOURCE, sub="alice", scope="cases:read", key=key))
        assert token is not None
        assert (token.subject, token.client_id, token.scopes) == ("alice", "claude", ["cases:read"])
        assert token.resource == RESOURCE and token.claims == {"iss": issuer.url}
    assert v.fetches == 1  # the JWKS was found through the issuer's RFC 8414 metadata, once
    await v.aclose()


async def test_openid_discovery_and_a_direct_jwks_url() -> None:
    openid = Issuer(openid_only=True).start()
    try:
        v = verifier(openid)
        assert await v.verify_token(openid.token(RESOURCE)) is not None
        direct = JwtVerifier(OAuthConfig(issuer=openid.url, resource_url=RESOURCE, jwks_url=f"{openid.url}/jwks"))
        assert await direct.verify_token(openid.token(RESOURCE)) is not None
        await v.aclose()
        await direct.aclose()
    finally:
        openid.stop()


@pytest.mark.parametrize(
    "case",
    [
        "wrong audience",
        "another resource on the same host",
        "wrong issuer",
        "expired",
        "not yet valid",
        "no expiry",
        "no subject",
        "unknown kid",
        "foreign key with a known kid",
        "alg none",
        "HMAC with the public key",
        "not a JWT",
    ],
)
async def test_refused(issuer: Issuer, case: str) -> None:
    v = verifier(issuer)
    now = int(time.time())
    stranger = SigningKey("RSA")
    token = {
        "wrong audience": lambda: issuer.token("https://other.example.org/mcp"),
        "another resource on the same host": lambda: issuer.token("https://casebridge.example.org/other"),
        "wrong issuer": lambda: issuer.token(RESOURCE, iss="https://evil.example.org"),
        "expired": lambda: issuer.token(RESOURCE, iat=now - 3600, exp=now - 120),
        "not yet valid": lambda: issuer.token(RESOURCE, nbf=now + 600),
        "no expiry": lambda: issuer.token(RESOURCE, exp=None),
        "no subject": lambda: issuer.token(RESOURCE, sub=None),
        "unknown kid": lambda: issuer.token(RESOURCE, key=stranger),
        "foreign key with a known kid": lambda: issuer.token(RESOURCE, key=_with_kid(stranger, issuer.keys[0].kid)),
        "alg none": lambda: _unsigned(issuer),
        "HMAC with the public key": lambda: _hmac_with_public_key(issuer),
        "not a JWT": lambda: "opaque-token-value",
    }[case]()
    assert await v.verify_token(token) is None
    await v.aclose()


async def test_small_clock_skew_is_tolerated(issuer: Issuer) -> None:
    now = int(time.time())
    v = verifier(issuer)
    assert await v.verify_token(issuer.token(RESOURCE, exp=now - 5)) is not None  # within 30 s
    assert await v.verify_token(issuer.token(RESOURCE, nbf=now + 5)) is not None
    await v.aclose()


async def test_key_rotation_is_picked_up_on_an_unknown_kid(issuer: Issuer) -> None:
    v = verifier(issuer, min_refresh_seconds=0)
    assert await v.verify_token(issuer.token(RESOURCE)) is not None
    rotated = SigningKey("EC")
    issuer.keys.append(rotated)
    try:
        before = v.fetches
        assert await v.verify_token(issuer.token(RESOURCE, key=rotated)) is not None
        assert v.fetches == before + 1
    finally:
        issuer.keys.remove(rotated)
    await v.aclose()


async def test_made_up_kids_do_not_hammer_the_issuer(issuer: Issuer) -> None:
    v = verifier(issuer)  # default: at most one refresh per 5 s
    assert await v.verify_token(issuer.token(RESOURCE)) is not None
    for _ in range(20):
        assert await v.verify_token(issuer.token(RESOURCE, key=SigningKey("EC"))) is None
    assert v.fetches <= 2
    await v.aclose()


def test_configuration_rules() -> None:
    def config(**kw: str) -> OAuthConfig | None:
        return OAuthConfig.from_settings(SettingsValues.model_validate(kw))

    assert config() is None
    assert config(casebridge_oauth_issuer="https://id.example.org", casebridge_resource_url=RESOURCE) is not None
    for partial in (
        {"casebridge_oauth_issuer": "https://id.example.org"},
        {"casebridge_oauth_jwks_url": "https://id.example.org/jwks", "casebridge_resource_url": RESOURCE},
        {"casebridge_oauth_issuer": "id.example.org", "casebridge_resource_url": RESOURCE},
        {
            "casebridge_oauth_issuer": "https://id.example.org",
            "casebridge_resource_url": RESOURCE,
            "casebridge_http_token": "x" * 32,
        },
    ):
        with pytest.raises(OAuthConfigError):
            config(**partial)


def _with_kid(key: SigningKey, kid: str) -> SigningKey:
    key.kid = kid
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unsigned(issuer: Issuer) -> str:
    header = {"alg": "none", "kid": issuer.keys[0].kid, "typ": "JWT"}
    now = int(time.time())
    claims = {"iss": issuer.url, "aud": RESOURCE, "sub": "mallory", "exp": now + 300, "scope": "cases:write"}
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."


def _hmac_with_public_key(issuer: Issuer) -> str:
    """The algorithm-confusion attack: HS256 keyed with the issuer's public key, which anyone can fetch."""
    header = {"alg": "HS256", "kid": issuer.keys[0].kid, "typ": "JWT"}
    now = int(time.time())
    claims = {"iss": issuer.url, "aud": RESOURCE, "sub": "mallory", "exp": now + 300}
    secret = json.dumps(issuer.keys[0].jwk).encode()
    signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signing}.{_b64(hmac.new(secret, signing.encode(), hashlib.sha256).digest())}"
