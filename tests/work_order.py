"""The order xdist hands out the suite's work: the longest units first, so none starts last.

A unit of work is a module, whose tests run together on one worker because they share the
module's servers, or, in a module of SPREAD_ACROSS_WORKERS (each test starts its own servers),
a single test. Handing out the longest units first keeps every worker busy to the end: handed
out by number of tests (xdist's order), the longest single test can start last and the run
waits for it alone.

Each unit's seconds (setup, call and teardown of its tests) come from durations.json beside
this file, measured by a run with `--write-figures` (each test's seconds are a figure of the
run: tests/figure_store.py). Stale seconds only change the order, never what runs; a unit with
none yet (a new module) goes first.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.figure_store import FigureKind
from uvicorn_harness.server import REPO_ROOT

DURATIONS_JSON = Path(__file__).resolve().parent / "durations.json"

SPREAD_ACROSS_WORKERS = frozenset(
    f"tests/{name}.py"
    for name in (
        "test_step5_queue_crashes",
        "test_step5_restarts",
        "test_step5_deploys",
        "test_fuzz_openapi",
    )
)


def unit_of(nodeid: str) -> str:
    """The unit of work a test belongs to: its module, or itself in a spread module."""
    module = nodeid.split("::", 1)[0]
    return nodeid if module in SPREAD_ACROSS_WORKERS else module


def stored_seconds() -> dict[str, float]:
    if not DURATIONS_JSON.exists():
        return {}
    seconds: dict[str, float] = json.loads(DURATIONS_JSON.read_text("utf-8"))
    return seconds


def longest_first(nodeids: list[str]) -> list[str]:
    """The tests in the order to hand out: by unit, longest unit first; a unit's tests keep
    their order (a module's fixtures expect it)."""
    seconds = stored_seconds()
    first_seen = {unit: place for place, unit in enumerate(dict.fromkeys(map(unit_of, nodeids)))}

    def key(nodeid: str) -> tuple[float, int]:
        unit = unit_of(nodeid)
        return (-seconds.get(unit, float("inf")), first_seen[unit])

    return sorted(nodeids, key=key)  # stable: within a unit, collection order


@dataclass(frozen=True)
class Duration:
    test: str  # node id
    seconds: float  # setup, call and teardown


class Durations(FigureKind[Duration]):
    """Each test's seconds, stored summed by unit of work (durations.json)."""

    name = "durations"
    figure_type = Duration

    def key(self, figure: Duration) -> str:
        return figure.test

    def add(self, config: pytest.Config, report: pytest.TestReport) -> None:
        """Count one phase (setup, call or teardown) of a test."""
        before = self.live_figure(config, report.nodeid)
        seconds = report.duration + (before.seconds if before else 0.0)
        self.keep(config, Duration(report.nodeid, seconds))

    def store(self, live: list[Duration], passed: set[str]) -> None:
        store(Counter({duration.test: duration.seconds for duration in live}))


KIND = Durations()


def store(seconds_by_test: Counter[str]) -> None:
    """Write each unit's measured seconds over the stored ones (rounded: the order needs no
    more); units whose module is gone are dropped."""
    units: Counter[str] = Counter()
    for nodeid, seconds in seconds_by_test.items():
        units[unit_of(nodeid)] += seconds
    stored = {
        unit: seconds
        for unit, seconds in stored_seconds().items()
        if (REPO_ROOT / unit.split("::", 1)[0]).exists()
    }
    merged = stored | {unit: round(seconds, 1) for unit, seconds in units.items()}
    DURATIONS_JSON.write_text(json.dumps(dict(sorted(merged.items())), indent=2) + "\n", "utf-8")
