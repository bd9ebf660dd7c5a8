"""The pooled client is built on the first request (start-up cost), and behaves as before once built."""

from __future__ import annotations

import httpx2 as httpx
import pytest

from casebridge.providers.http import ProviderHTTP


def _ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"url": str(request.url), "ua": request.headers["user-agent"]})


async def test_no_client_until_the_first_request() -> None:
    http = ProviderHTTP("p", "https://Example.org/api", transport=httpx.MockTransport(_ok))
    assert http._client is None
    assert http.base_url == "https://example.org/api/"
    response = await http.get("cases/", {"q": "x"})
    assert response.json()["url"] == "https://example.org/api/cases/?q=x"
    assert response.json()["ua"].startswith("casebridge/")
    assert http._client is not None
    await http.aclose()


async def test_close_before_use_then_requests_fail_as_on_a_closed_client() -> None:
    http = ProviderHTTP("p", "https://example.org", transport=httpx.MockTransport(_ok))
    await http.aclose()
    assert http._client is None
    with pytest.raises(RuntimeError, match="closed"):
        http._http()
