"""Every benchmark, in table order, run against one emulator process."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bench import cold_start, concurrency, naive, paging, per_call, result_size
from bench.harness import Config, Lab, Row

Benchmark = Callable[[Lab, Config], list[Row]]

BENCHMARKS: dict[str, Benchmark] = {
    "cold_start": cold_start.run,
    "per_call": per_call.run,
    "concurrency": concurrency.run,
    "result_size": result_size.run,
    "paging": paging.run,
    "naive": naive.run,
}


def run_all(
    config: Config, *, only: Sequence[str] | None = None, progress: Callable[[str], None] | None = None
) -> list[Row]:
    rows: list[Row] = []
    with Lab() as lab:
        for name, bench in BENCHMARKS.items():
            if only and name not in only:
                continue
            if progress:
                progress(name)
            rows.extend(bench(lab, config))
    return rows
