"""The typed errors every provider client raises, whatever the service's own error format."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Self

# The hint of a MalformedResponse whose cause is the answer's format, not the request.
UNEXPECTED_FORMAT_HINT = "The service answered in an unexpected format; retry later."


class ProviderError(Exception):
    """A failure talking to a provider, already classified.

    ``message`` says what happened in the provider's terms (never a secret); ``hint`` says what the
    caller can change. ``retryable`` tells whether the same call may succeed later.
    """

    category: ClassVar[str] = "provider_error"
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        hint: str | None = None,
        status: int | None = None,
        field: str | None = None,
        maybe_sent: bool = False,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.message = message
        self.hint = hint
        self.status = status
        self.field = field
        # For writes: True when the request may have reached the service before the failure.
        self.maybe_sent = maybe_sent

    @property
    def retry_after(self) -> float | None:
        return None

    def redacted(self, redact: Callable[[str], str]) -> Self:
        """This error with ``redact`` applied to every text it carries (they may quote the provider)."""
        self.message = redact(self.message)
        self.args = (self.message,)
        if self.field is not None:
            self.field = redact(self.field)
        if self.hint is not None:
            self.hint = redact(self.hint)
        return self

    def __str__(self) -> str:
        return f"{self.provider}: {self.message}"


class InvalidRequest(ProviderError):
    """The request was malformed before or at the provider (unknown filter, bad value)."""

    category = "invalid_input"


class NotConfigured(ProviderError):
    """The provider has no credentials in this server's configuration."""

    category = "not_configured"


class AuthenticationFailed(ProviderError):
    """The provider refused the credentials (401) or their permissions (403)."""

    category = "authentication"


class NotFound(ProviderError):
    category = "not_found"


class RateLimited(ProviderError):
    category = "rate_limited"
    retryable = True

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        retry_after: float | None = None,
        hint: str | None = None,
        status: int | None = 429,
    ) -> None:
        super().__init__(provider, message, hint=hint, status=status)
        self._retry_after = retry_after

    @property
    def retry_after(self) -> float | None:
        return self._retry_after


class Unavailable(ProviderError):
    """5xx answers, refused or dropped connections: the service is not answering properly."""

    category = "provider_unavailable"
    retryable = True


class Rejected(ProviderError):
    """The provider understood the request and refused it (validation, business rule)."""

    category = "provider_rejected"


class RequestBudgetSpent(Rejected):
    """One tool call needed more provider requests than its budget (``providers.http.request_budget``).

    Reported as ``provider_rejected``: the same call would fail the same way, a narrower one may not.
    """


class Timeout(ProviderError):
    """No answer within the per-call deadline."""

    category = "timeout"
    retryable = True


class MalformedResponse(ProviderError):
    """The provider answered with something that is not its documented format."""

    category = "malformed_response"
    retryable = True


class ResponseTooLarge(MalformedResponse):
    """The answer's decoded body was larger than the configured cap; the same request would be too."""

    retryable = False
