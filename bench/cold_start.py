"""Cold start: spawn to the first ``tools/list`` answer over stdio, casebridge against a bare one-tool server."""

from __future__ import annotations

from bench.harness import BARE, CASEBRIDGE, Config, Lab, Row, median, spawn_to_tools_list

TARGET_RATIO = 1.15


def tools_list_line(lab: Lab) -> bytes:
    """casebridge's whole ``tools/list`` answer over stdio, as sent."""
    return spawn_to_tools_list(CASEBRIDGE, lab.env(), lab.cwd)[1]


def run(lab: Lab, config: Config) -> list[Row]:
    ours: list[float] = []
    bare: list[float] = []
    # One untimed start each fills the OS file cache (and Python's bytecode cache) for both.
    spawn_to_tools_list(BARE, {}, lab.cwd)
    spawn_to_tools_list(CASEBRIDGE, lab.env(), lab.cwd)
    for i in range(config.cold_runs):
        # Alternate the order so drift in machine load falls on both sides alike.
        pairs = [(bare, BARE, {}), (ours, CASEBRIDGE, lab.env())]
        for samples, command, env in pairs if i % 2 == 0 else reversed(pairs):
            seconds, _ = spawn_to_tools_list(command, env, lab.cwd)
            samples.append(seconds * 1000)
    return [
        Row(
            "cold start",
            "spawn -> first tools/list, stdio, 3 providers",
            median(ours),
            median(bare),
            "ms",
            "ratio",
            TARGET_RATIO,
            config.cold_runs,
        )
    ]
