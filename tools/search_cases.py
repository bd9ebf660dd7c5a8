"""``search_cases``: filter one provider's cases, a page at a time."""

from __future__ import annotations

import copy
import inspect
from typing import Annotated, Any, Literal

from mcp.server import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field, ValidationError

from casebridge.tools import cursor as cursors
from casebridge.tools.catalog import Catalog
from casebridge.tools.errors import invalid
from casebridge.tools.models import ProviderName, SearchResult, for_providers
from casebridge.tools.registry import SourceRegistry
from casebridge.tools.render import search_result
from casebridge.tools.sources.base import MAX_PAGE_SIZE
from casebridge.tools.sources.commcare_filters import CommCareFilters

NAME = "search_cases"
DEFAULT_LIMIT = 10
MAX_LIMIT = MAX_PAGE_SIZE

DESCRIPTION = (
    "Search cases in one provider: {providers}. Give `provider` and that provider's filter object; "
    "filters combine with AND. Enumerated filters take the label or the id. Results are one line "
    "per case with a ref for get_case. For more, call again with only `cursor` = next_cursor."
)

ANNOTATIONS = ToolAnnotations(
    title="Search cases",
    read_only_hint=True,
    destructive_hint=False,
    idempotent_hint=True,
    open_world_hint=True,
)

LIMIT = Annotated[int | None, Field(ge=1, le=MAX_LIMIT, description="Cases per page (default 10, or the cursor's).")]
CURSOR = Annotated[
    str | None, Field(max_length=cursors.MAX_CURSOR_LENGTH, description="next_cursor of the previous page.")
]


def description(catalog: Catalog) -> str:
    named = [f"{spec.name} ({spec.summary})" for spec in catalog]
    return DESCRIPTION.format(providers=", ".join(named[:-1]) + " or " + named[-1] if len(named) > 1 else named[0])


def filter_models(catalog: Catalog) -> dict[ProviderName, type[BaseModel]]:
    """Each provider's filter object, by provider: one parameter of search_cases each."""
    return {spec.name: spec.filters() for spec in catalog}


def signature(catalog: Catalog, models: dict[ProviderName, type[BaseModel]]) -> inspect.Signature:
    """search_cases' parameters: provider, one filter object per provider of ``catalog``, limit and cursor."""
    clash = {"provider", "limit", "cursor"} & set(models)
    if clash:
        raise ValueError(f"a provider cannot be named {', '.join(sorted(clash))}: search_cases has that parameter")
    names: Any = Literal[catalog.names]
    keyword = inspect.Parameter.KEYWORD_ONLY
    provider = Annotated[names | None, Field(description="Service to search. Not needed with cursor.")]
    parameters = [
        inspect.Parameter("provider", keyword, default=None, annotation=provider),
        *(inspect.Parameter(name, keyword, default=None, annotation=model | None) for name, model in models.items()),
        inspect.Parameter("limit", keyword, default=None, annotation=LIMIT),
        inspect.Parameter("cursor", keyword, default=None, annotation=CURSOR),
    ]
    result = for_providers(SearchResult, catalog.names)
    return inspect.Signature(parameters, return_annotation=Annotated[CallToolResult, result])


def _declare(fn: Any, declared: inspect.Signature) -> None:
    """``fn`` presented as taking ``declared``'s parameters: what ``inspect.signature`` and type hints read."""
    fn.__signature__ = declared
    fn.__annotations__ = {p.name: p.annotation for p in declared.parameters.values()}
    fn.__annotations__["return"] = declared.return_annotation


def register(server: MCPServer, registry: SourceRegistry) -> None:
    models = filter_models(registry.catalog)

    async def search_cases(
        provider: ProviderName | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        **by_provider: BaseModel | None,
    ) -> CallToolResult:
        given = {name: model for name, model in by_provider.items() if model is not None}
        if cursor is not None:
            provider, filters, state, kept = _continue(cursor, provider, given, models)
            # Continuing with only the cursor keeps the first call's page size; a limit given now changes it.
            limit = limit or kept or DEFAULT_LIMIT
        else:
            provider = _choose_provider(provider, given, registry)
            filters = given.get(provider) or models[provider]()
            state = None
            limit = limit or DEFAULT_LIMIT
        source = registry.get(provider)
        _refuse_hidden(filters, registry)
        try:
            page = await source.search(filters, state, limit)
        except ValueError as exc:  # page state rejected by the adapter: a forged or stale cursor
            raise invalid(
                "cursor", f"the cursor cannot be continued: {exc}", "Start the search again without cursor."
            ) from exc
        next_cursor = None
        if page.state is not None:
            dumped = filters.model_dump(mode="json", exclude_none=True)
            # The default page size is left out: the cursor stays as short as before for most searches.
            next_cursor = cursors.encode(provider, dumped, page.state, None if limit == DEFAULT_LIMIT else limit)
        result = SearchResult(
            provider=provider,
            sandbox=source.sandbox,
            cases=page.cases,
            total=page.total,
            next_cursor=next_cursor,
            truncated=next_cursor is not None,
            notes=page.notes or None,
        )
        return search_result(result, page.cases)

    # The parameters come from the catalog: the SDK reads them (and the result's schema) from the signature.
    _declare(search_cases, signature(registry.catalog, models))
    server.add_tool(search_cases, name=NAME, description=description(registry.catalog), annotations=ANNOTATIONS)
    if registry.configured:
        registry.schema_hooks[NAME] = lambda schema: offer_only(schema, registry.configured, models)


def offer_only(
    schema: dict[str, Any], configured: list[ProviderName], models: dict[ProviderName, type[BaseModel]]
) -> dict[str, Any]:
    """The input schema with unconfigured providers' enum values and filter objects removed.

    Validation still knows every provider, so a call naming an unconfigured one gets the
    "not configured" explanation rather than a bare schema error.
    """
    schema = copy.deepcopy(schema)
    props = schema["properties"]
    props["provider"]["enum"] = list(configured)
    defs = schema.get("$defs", {})
    for name, model in models.items():
        if name not in configured:
            props.pop(name, None)
            defs.pop(model.__name__, None)
    return schema


def _choose_provider(
    provider: ProviderName | None, given: dict[str, BaseModel], registry: SourceRegistry
) -> ProviderName:
    if provider is None:
        if len(given) == 1:
            return next(iter(given))
        if not given and len(registry.configured) == 1:
            return registry.configured[0]
        raise invalid(
            "provider",
            "no provider given",
            f"Set provider to one of: {', '.join(registry.configured or registry.providers)}.",
        )
    others = [name for name in given if name != provider]
    if others:
        raise invalid(
            others[0],
            f"filters for {others[0]} were given but provider is {provider}",
            f"Put the filters in the '{provider}' object, or set provider to {others[0]}.",
        )
    return provider


def _continue(
    cursor: str, provider: ProviderName | None, given: dict[str, BaseModel], models: dict[ProviderName, type[BaseModel]]
) -> tuple[ProviderName, BaseModel, dict[str, Any], int | None]:
    fix = "Pass next_cursor exactly as returned, or start again without cursor."
    try:
        data = cursors.decode(cursor)
    except cursors.CursorError as exc:
        raise invalid("cursor", str(exc), fix) from exc
    if data.provider not in models:
        raise invalid("cursor", "the cursor is not one casebridge issued", fix)
    cursor_provider: ProviderName = data.provider
    if provider is not None and provider != cursor_provider:
        raise invalid("cursor", f"the cursor belongs to a {cursor_provider} search, not {provider}", fix)
    try:
        filters = models[cursor_provider].model_validate(data.filters)
    except ValidationError as exc:
        raise invalid("cursor", "the cursor's filters are not valid", fix) from exc
    for name, model in given.items():
        same = name == cursor_provider and model.model_dump(mode="json", exclude_none=True) == data.filters
        if not same:
            raise invalid(
                name,
                "filters cannot change in the middle of a search",
                "Call with only cursor to continue, or without cursor to start a new search.",
            )
    return cursor_provider, filters, data.state, data.page_size


def _refuse_hidden(filters: BaseModel, registry: SourceRegistry) -> None:
    """A filter on a property the deployment hides would tell which cases hold a value: refused."""
    hidden = registry.privacy.hidden_properties
    if not hidden or not isinstance(filters, CommCareFilters):
        return
    named = [*(filters.properties or {}), *(filters.show_properties or [])]
    for name in named:
        if name in hidden:
            raise invalid(
                f"commcare.properties.{name}",
                f"the property {name!r} is hidden on this server (COMMCARE_HIDDEN_PROPERTIES)",
                "Search without it; this deployment never shows or filters on that property.",
                provider="commcare",
            )
