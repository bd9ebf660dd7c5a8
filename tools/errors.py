"""Tool failures as actionable ``isError`` results: what, why, retryable or not, what to change."""

from __future__ import annotations

import re
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from pydantic import ValidationError

from casebridge.providers.errors import InvalidRequest, NotConfigured, ProviderError, Timeout, Unavailable
from casebridge.tools.render import fence_inline
from casebridge.tools.text import one_line

PROVIDER_NAMES = {"certn": "Certn", "commcare": "CommCare", "clearinghouse": "Clearinghouse"}
# Errors raised before any answer came back (no HTTP status): their messages are casebridge's own words.
_OWN_WORDS = (InvalidRequest, NotConfigured, Timeout, Unavailable)
# A field name a provider may name in its error body (Certn's "attr"): anything else is dropped.
_FIELD = re.compile(r"[A-Za-z0-9_.\[\]-]{1,80}")


class ToolFailure(ToolError):
    """A failure the model can act on. Raised by handlers; rendered by the server.

    ``message`` is casebridge's words; ``provider_message`` the provider's own (from an error body),
    which the text rendering shows only inside a data fence. When casebridge has nothing to add,
    ``message`` is the provider's words too (structured, one clean line) and the text shows them fenced.
    """

    def __init__(
        self,
        category: str,
        message: str,
        *,
        provider: str | None = None,
        field: str | None = None,
        fix: str | None = None,
        retryable: bool = False,
        retry_after_seconds: float | None = None,
        provider_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.category = category
        self.message = message
        self.provider_message = one_line(provider_message, 500) if provider_message else None
        self.provider = provider
        self.field = field
        # Every failure says what to do: a generic hint for its category when the raiser gave none.
        self.fix = fix or _DEFAULT_FIX.get(category)
        self.retryable = retryable
        self.retry_after_seconds = retry_after_seconds

    @classmethod
    def from_provider(cls, err: ProviderError, prefix: str | None = None) -> ToolFailure:
        """The failure for ``err``; ``prefix`` (e.g. "Nothing was ordered") is casebridge's words before it."""
        retry_after = err.retry_after
        said = one_line(err.message, 500)
        # An answer's message may quote its error body: untrusted, so it is fenced in the text.
        quoted = quotes_provider(err)
        own = f"{prefix}: {said}" if prefix else said
        message = (prefix or said) if quoted else own
        return cls(
            err.category,
            message,
            provider=err.provider,
            field=err.field if err.field and _FIELD.fullmatch(err.field) else None,
            fix=err.hint or _DEFAULT_FIX.get(err.category),
            retryable=err.retryable,
            retry_after_seconds=None if retry_after is None else round(retry_after, 1),
            provider_message=said if quoted else None,
        )

    @classmethod
    def citing(cls, err: ProviderError, category: str, message: str, **kw: Any) -> ToolFailure:
        """A failure in casebridge's ``message`` about ``err``; its words are fenced when they may be the provider's."""
        if quotes_provider(err):
            return cls(category, message, provider=err.provider, provider_message=err.message, **kw)
        return cls(category, f"{message} ({one_line(err.message, 200)})", provider=err.provider, **kw)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "category": self.category,
            "message": self.message,
            "retryable": self.retryable,
        }
        for key in ("provider", "field", "fix", "retry_after_seconds"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        if self.provider_message and self.provider_message != self.message:
            data["provider_message"] = self.provider_message
        return data

    def render(self) -> str:
        where = f"{self.provider} " if self.provider else ""
        head = f"Error ({where}{self.category}"
        if self.field:
            head += f", field '{self.field}'"
        if not self.provider_message:
            head += f"): {self.message}"
        else:
            who = PROVIDER_NAMES.get(self.provider or "", "The provider")
            said = f"{who} said: {fence_inline(self.provider_message, 500)}"
            head += f"): {said}" if self.provider_message == self.message else f"): {self.message}. {said}"
        lines = [head]
        if self.retryable:
            wait = f" after {self.retry_after_seconds:g} s" if self.retry_after_seconds is not None else ""
            lines.append(f"Retryable: yes{wait}.")
        else:
            lines.append("Retryable: no (the same call will fail the same way).")
        if self.fix:
            lines.append(f"What to do: {self.fix}")
        return "\n".join(lines)


def quotes_provider(err: ProviderError) -> bool:
    """True when ``err``'s message may quote the provider's answer (one came back), so it is fenced."""
    return err.status is not None or not isinstance(err, _OWN_WORDS)


def invalid(field: str, message: str, fix: str | None = None, provider: str | None = None) -> ToolFailure:
    return ToolFailure("invalid_input", message, field=field, fix=fix, provider=provider)


_DEFAULT_FIX = {
    "invalid_input": "Correct the named field and call again.",
    "not_configured": "Ask the person who installed casebridge to set this provider's credentials.",
    "authentication": "The configured credentials were refused; they need to be checked (casebridge doctor).",
    "not_found": "Check the case ref; search_cases returns valid refs.",
    "rate_limited": "Wait, then call again with the same arguments.",
    "provider_unavailable": "Call again shortly.",
    "provider_rejected": "Change the request as the message says.",
    "timeout": "Call again shortly, or narrow the request.",
    "malformed_response": "Call again shortly; if it persists the service may be changing its API.",
    # A write that may have reached the provider: repeating it another way could do it twice.
    "may_have_been_placed": (
        "Do not do it again another way; call again with the same arguments and casebridge will find it."
    ),
}


def failure_from_exception(exc: ToolError) -> ToolFailure:
    """The actionable failure behind whatever the SDK raised for a tool call."""
    cause = exc.__cause__
    if isinstance(exc, ToolFailure):
        return exc
    if isinstance(cause, ToolFailure):
        return cause
    if isinstance(cause, ProviderError):
        return ToolFailure.from_provider(cause)
    if isinstance(cause, ValidationError):
        return from_validation(cause)
    if isinstance(exc, UnexpectedToolError):
        return ToolFailure(
            "internal",
            "casebridge hit an unexpected error handling this call (logged on the server)",
            retryable=False,
            fix="Try different arguments; if it persists, report it with the server log.",
        )
    message = str(exc).removeprefix("Error executing tool ")
    return ToolFailure("invalid_input", message[:300], fix="Check the tool name and arguments against tools/list.")


def from_validation(err: ValidationError) -> ToolFailure:
    problems = []
    errors = err.errors(include_url=False, include_input=False)
    for e in errors[:5]:
        loc = ".".join(str(p) for p in e["loc"]) or "arguments"
        msg = str(e["msg"]).removeprefix("Value error, ")
        if e["type"] == "missing":
            msg = "required, but not given"
        elif e["type"] == "extra_forbidden":
            msg = "Extra inputs are not permitted: not a parameter here (see the input schema)"
        problems.append(f"{one_line(loc, 80)}: {one_line(msg, 300)}")
    more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
    first = ".".join(str(p) for p in errors[0]["loc"]) if errors else None
    return ToolFailure(
        "invalid_input",
        "; ".join(problems) + more,
        field=one_line(first, 80) if first else None,
        fix="Correct the named field(s) and call again; the tool's input schema lists what is valid.",
    )
