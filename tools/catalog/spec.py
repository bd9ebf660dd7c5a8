"""``ProviderSpec``: one provider as casebridge knows it, declared once; ``Catalog``: the providers a server knows."""

from __future__ import annotations

import typing
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, SecretStr

if TYPE_CHECKING:
    from casebridge.providers.http import AsyncBaseTransport, HttpPolicy
    from casebridge.sandbox.emulation import Emulator
    from casebridge.tools.sources.base import Source


class Client(Protocol):
    async def aclose(self) -> None: ...


V = TypeVar("V", bound=BaseModel)  # the provider's variables: a model of its settings fields
C = TypeVar("C", bound=Client)


@dataclass(frozen=True)
class SandboxSpec:
    """The provider's emulator in the sandbox (``casebridge --sandbox``, ``casebridge sandbox``)."""

    build: Callable[[], Emulator]  # imports the emulator when called: only the sandbox pays for it
    # Its variables' values (by field) for an emulator served at a base URL, in the order they are printed.
    variables: Callable[[str], dict[str, str]]
    prefix: str  # the paths its API answers under, which no other emulator's overlap


@dataclass(frozen=True)
class ProviderSpec(Generic[V, C]):
    """Everything casebridge knows about one provider; settings, doctor, wiring, sandbox and tools loop over these.

    ``variables`` is the model of the provider's settings fields (a variable is its field's name in upper case).
    ``required`` names the fields that must all be set for the provider to be offered, each with the
    placeholder ``casebridge config claude`` prints for it; ``url`` is the optional base-URL field.
    Clients, sources, filters and emulators are imported only when a factory is called (cold start).
    """

    name: str
    summary: str  # what its cases are, for search_cases' description
    variables: type[V]
    required: Mapping[str, str]
    url: str
    connect: Callable[[V, AsyncBaseTransport | None, HttpPolicy], C]
    source: Callable[[C, bool], Source]  # the client's adapter for the tools; the flag: sandbox data
    filters: Callable[[], type[BaseModel]]  # search_cases' filter object for this provider
    probe: Callable[[C], Awaitable[object]]  # doctor: its cheapest authenticated read (a str answer: a remark)
    sandbox: SandboxSpec
    public: tuple[str, ...] = ()  # fields that are not secret: shown in results, never redacted
    # doctor: the fix when the credentials are accepted but the account is refused (HTTP 403), and what
    # else to check after a 404, given the settings and where the request went.
    denied_fix: Callable[[V, str], str] | None = None
    not_found_also: Callable[[V], str] | None = None

    @property
    def required_variables(self) -> tuple[str, ...]:
        return tuple(name.upper() for name in self.required)

    @property
    def needed(self) -> str:
        """The required variables, comma-separated."""
        return ", ".join(self.required_variables)

    @property
    def url_variable(self) -> str:
        return self.url.upper()

    @property
    def default_url(self) -> str:
        return str(self.variables.model_fields[self.url].default)

    @property
    def secrets(self) -> frozenset[str]:
        """The fields holding secrets (typed ``SecretStr``)."""
        return frozenset(n for n, f in self.variables.model_fields.items() if _is_secret(f.annotation))

    @property
    def hint(self) -> str:
        """How to configure it, e.g. ``set CERTN_API_KEY (optionally CERTN_BASE_URL)``."""
        return f"set {_and(self.required_variables)} (optionally {self.url_variable})"

    def config(self, settings: BaseModel) -> V:
        """``settings`` as this provider's variables (the settings model of the catalog includes them)."""
        if not isinstance(settings, self.variables):
            raise TypeError(f"these settings have no {self.name} variables: use settings_model() of its catalog")
        return settings

    def status(self, settings: BaseModel) -> ProviderStatus:
        """Configured, half set (with what is missing) or not mentioned at all."""
        config = self.config(settings)
        missing = [name.upper() for name in self.required if not _present(getattr(config, name))]
        if not missing:
            return ProviderStatus(self.name, configured=True, missing=[])
        named = [*self.required, self.url]
        mentioned = [n for n in named if n in config.model_fields_set and _present(getattr(config, n))]
        return ProviderStatus(self.name, configured=False, missing=missing if mentioned else [])

    def open(self, settings: BaseModel, transport: AsyncBaseTransport | None, policy: HttpPolicy) -> C:
        return self.connect(self.config(settings), transport, policy)


@dataclass(frozen=True)
class ProviderStatus:
    provider: str
    configured: bool
    missing: list[str]  # non-empty only when the provider is half set

    @property
    def half_set(self) -> bool:
        return not self.configured and bool(self.missing)


@dataclass(frozen=True)
class Catalog:
    """The providers a server knows, in the order they are listed everywhere."""

    specs: tuple[ProviderSpec[Any, Any], ...]
    _by_name: dict[str, ProviderSpec[Any, Any]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {spec.name: spec for spec in self.specs})
        if len(self._by_name) != len(self.specs):
            raise ValueError("two providers of a catalog have the same name")

    def __iter__(self) -> Iterator[ProviderSpec[Any, Any]]:
        return iter(self.specs)

    def __getitem__(self, name: str) -> ProviderSpec[Any, Any]:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __hash__(self) -> int:
        return hash(self.names)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    def register(self, spec: ProviderSpec[Any, Any]) -> Catalog:
        """A new catalog: this one plus ``spec`` (catalogs never change, so servers built from one stay as they are)."""
        return Catalog((*self.specs, spec))


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in typing.get_args(annotation)


def _present(value: object) -> bool:
    return bool(value.get_secret_value() if isinstance(value, SecretStr) else value)


def _and(names: tuple[str, ...]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
