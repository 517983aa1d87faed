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
from typing import Any

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
# Units that compare a page with a live measurement: they run after every other unit, on one
# worker, with no other test process left, so nothing of the suite competes for the cores while
# they measure (on 2 cores, five busy test processes delay a worker's first job by 0.5-0.9 s).
RUNS_ALONE = frozenset({"tests/test_docs_compare.py"})


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

    def key(nodeid: str) -> tuple[bool, float, int]:
        unit = unit_of(nodeid)
        return (unit in RUNS_ALONE, -seconds.get(unit, float("inf")), first_seen[unit])

    return sorted(nodeids, key=key)  # stable: within a unit, collection order


def make_scheduler(config: pytest.Config, log: Any) -> Any:
    """xdist's `loadfile` with our units of work, handed out in collection order (longest first),
    and the RUNS_ALONE units kept back until every other worker has finished and exited.

    An xdist worker runs a test only once it knows the next one (or that there is none), so a
    worker with one test left is waiting, not running: that is the moment to give it the units
    that run alone. Kept while `--dist loadgroup` with xdist_group marks groups nothing (it does
    not on pytest 9.2.0 with pytest-xdist 3.8.0: pytest-xdist#1386's reproducer)."""
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    class ByUnitOfWork(LoadScopeScheduling):  # type: ignore[misc]
        def __init__(self, config: pytest.Config, log: Any) -> None:
            super().__init__(config, log)
            self.held: dict[str, dict[str, bool]] = {}
            self.alone_on: Any = None  # the worker that will run the held units

        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

        def _hold_back(self) -> None:
            for unit in [unit for unit in self.workqueue if unit in RUNS_ALONE]:
                self.held[unit] = self.workqueue.pop(unit)

        def _assign_work_unit(self, node: Any) -> None:
            self._hold_back()
            if self.workqueue:
                super()._assign_work_unit(node)

        def _reschedule(self, node: Any) -> None:
            self._hold_back()
            if node.shutting_down or self.workqueue or not self.held:
                super()._reschedule(node)
            elif self.alone_on is None:
                self.alone_on = node
            if node is not self.alone_on and not self.workqueue and self.held:
                node.shutdown()
            self._release_held()

        def remove_node(self, node: Any) -> str | None:
            crashed: str | None = super().remove_node(node)
            if node is self.alone_on:
                self.alone_on = None  # it crashed: the next worker to run out takes over
            self._release_held()
            return crashed

        def _release_held(self) -> None:
            node = self.alone_on
            if node is None or self.workqueue or not self.held:
                return
            if self.nodes != [node] or self._pending_of(self.assigned_work[node]) > 1:
                return
            self.workqueue.update(self.held)
            self.held.clear()
            while self.workqueue:
                super()._assign_work_unit(node)

        @property
        def tests_finished(self) -> bool:
            return not self.held and bool(super().tests_finished)

        @property
        def has_pending(self) -> bool:
            return bool(self.held) or bool(super().has_pending)

    return ByUnitOfWork(config, log)


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
