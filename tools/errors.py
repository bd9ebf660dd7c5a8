"""Tool failures as actionable ``isError`` results: what, why, retryable or not, what to change."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from pydantic import ValidationError

from providers.errors import ProviderError
from tools.text import one_line


class ToolFailure(ToolError):
    """A failure the model can act on. Raised by handlers; rendered by the server."""

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
    ) -> None:
        super().__init__(message)
        self.category = category
        self.message = message
        self.provider = provider
        self.field = field
        # Every failure says what to do: a generic hint for its category when the raiser gave none.
        self.fix = fix or _DEFAULT_FIX.get(category)
        self.retryable = retryable
        self.retry_after_seconds = retry_after_seconds

    @classmethod
    def from_provider(cls, err: ProviderError) -> ToolFailure:
        retry_after = err.retry_after
        # The message and field may quote the provider's own error body: untrusted, one line, bounded.
        return cls(
            err.category,
            one_line(err.message, 500),
            provider=err.provider,
            field=one_line(err.field, 80) if err.field else None,
            fix=err.hint or _DEFAULT_FIX.get(err.category),
            retryable=err.retryable,
            retry_after_seconds=None if retry_after is None else round(retry_after, 1),
        )

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
        return data

    def render(self) -> str:
        where = f"{self.provider} " if self.provider else ""
        head = f"Error ({where}{self.category}"
        if self.field:
            head += f", field '{self.field}'"
        head += f"): {self.message}"
        lines = [head]
        if self.retryable:
            wait = f" after {self.retry_after_seconds:g} s" if self.retry_after_seconds is not None else ""
            lines.append(f"Retryable: yes{wait}.")
        else:
            lines.append("Retryable: no (the same call will fail the same way).")
        if self.fix:
            lines.append(f"What to do: {self.fix}")
        return "\n".join(lines)


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
