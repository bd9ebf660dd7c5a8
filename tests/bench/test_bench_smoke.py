"""The benchmark machinery runs end to end in its tiny mode: every row present, every number finite.

Structure only: tests never assert on wall-clock time (``python -m bench`` is for that).
"""

from __future__ import annotations

import math

from bench.harness import TINY, Row, render_table
from bench.suite import BENCHMARKS, run_all


def test_every_benchmark_produces_finite_rows() -> None:
    rows = run_all(TINY)

    assert {r.bench for r in rows} == {
        "cold start",
        "per-call overhead",
        "concurrency",
        "result size",
        "deep paging",
        "vs naive",
    }
    assert len(BENCHMARKS) == 6
    targeted = [r for r in rows if r.target is not None]
    # Cold start, concurrency, paging: one figure each; per-call and text size: three providers; tools/list;
    # against the naive peer: cold start, latency and CPU per stdio call (3 providers), two sizes each, the burst.
    assert len(targeted) == 1 + 3 + 1 + 4 + 1 + (1 + 3 * 2 + 3 * 2 + 2)
    for row in rows:
        assert isinstance(row, Row)
        assert math.isfinite(row.value) and row.value > 0, row
        assert row.baseline is None or (math.isfinite(row.baseline) and row.baseline > 0), row
        assert math.isfinite(row.score), row
        assert row.verdict in {"pass", "FAIL", "info"}

    table = render_table(rows).splitlines()
    assert len(table) == 2 + len(rows)
    assert table[1].startswith("|-")
    assert all(line.startswith("| ") and line.endswith(" |") for line in [table[0], *table[2:]])
