"""``python -m bench [--quick]``: run every benchmark against the emulators on loopback and print one table."""

from __future__ import annotations

import argparse
import sys
import time

from bench.harness import FULL, QUICK, machine, render_table
from bench.suite import BENCHMARKS, run_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions: about a minute")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="run only these (repeatable)")
    args = parser.parse_args(argv)
    config = QUICK if args.quick else FULL
    started = time.perf_counter()
    rows = run_all(config, only=args.only, progress=lambda name: print(f"running {name} ...", file=sys.stderr))
    print(render_table(rows))
    print(f"\n{machine()}; {config.name} run, {time.perf_counter() - started:.0f} s")
    return 0 if all(r.passed for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
