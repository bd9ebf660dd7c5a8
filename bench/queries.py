"""The searches the benchmarks run, as ``search_cases`` arguments and as the same request made directly."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Search:
    """One 10-case search. ``direct`` makes the identical provider request through the provider client;
    ``raw`` is that request as (client, path, params) for the undecoded JSON, ``raw_cases`` picks the cases."""

    provider: str
    arguments: dict[str, Any]
    direct: Callable[[Any], Awaitable[Any]]
    raw_path: Callable[[Any], str]
    raw_params: dict[str, Any]
    raw_cases: Callable[[Any], list[Any]]
    ref_of: Callable[[Any], str]


LIMIT = 10

SEARCHES: dict[str, Search] = {
    "clearinghouse": Search(
        "clearinghouse",
        {"provider": "clearinghouse", "clearinghouse": {"case_type": "Prison Conditions"}, "limit": LIMIT},
        lambda client: client.search({"case_type": 5034}),
        lambda client: "cases/",
        {"case_type": 5034},
        lambda body: list(body["results"])[:LIMIT],
        lambda case: f"clearinghouse:{case['id']}",
    ),
    "commcare": Search(
        "commcare",
        {"provider": "commcare", "commcare": {"case_type": "patient", "status": "open"}, "limit": LIMIT},
        lambda client: client.list_cases_v2({"case_type": "patient", "closed": False}, limit=LIMIT),
        lambda client: client._root + "case/v2/",
        {"case_type": "patient", "closed": False, "limit": LIMIT},
        lambda body: list(body["cases"])[:LIMIT],
        lambda case: f"commcare:{case['case_id']}",
    ),
    "certn": Search(
        "certn",
        {"provider": "certn", "limit": LIMIT},
        lambda client: client.list_cases(page=1, page_size=LIMIT),
        lambda client: "api/public/cases/",
        {"page": 1, "page_size": LIMIT},
        lambda body: list(body["results"])[:LIMIT],
        lambda case: f"certn:{case['id']}",
    ),
}
