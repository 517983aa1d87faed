"""Stage 5's crash table: what each crash did to a job on each broker, as a test run measured it.

The page prints no number of its own: it includes docs/step5/crashes.md, rendered from
docs/step5/crashes.json. Each crash test proves an outcome, measures how long recovery took,
and calls `check`, which fails when the time is beyond the test's bound, and (through
tests/figure_store.py) when the page has no cell for that crash and broker, when the page's
outcome or bound is not the one the test enforces, or when the page's time is beyond that
bound. `--write-figures` stores this run's cells instead, over the stored ones, and renders the
table again.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.figure_store import FigureKind
from uvicorn_harness.server import REPO_ROOT

TABLE_DIR = REPO_ROOT / "docs" / "step5"
TABLE_JSON = TABLE_DIR / "crashes.json"
TABLE_MD = TABLE_DIR / "crashes.md"
# The broker rows, a table of their own with the brokers that have a process (the page keeps
# it in a collapsed block, under the processes' table).
BROKER_TABLE_MD = TABLE_DIR / "crashes-brokers.md"

# The table's rows, in order, as the page names them.
CRASHES = {
    "pool": "`kill -9` of the pool process running the job",
    "every_pool": "`kill -9` of every pool process",
    "worker": "`kill -9` of the whole worker, a second worker waiting",
    "effect": "the pool process dead after the job's effect, before its ack",
    "api": "the API killed and restarted",
    "broker": "the broker restarted (Redis with `appendonly yes`; RabbitMQ: a quorum queue)",
    "broker_killed": "`kill -9` of the broker (Redis with `appendonly yes`; RabbitMQ: a quorum "
    "queue, publisher confirms)",
    "broker_killed_fsync": "`kill -9` of Redis (`appendonly yes`) right after `POST`s, with "
    "each `appendfsync` setting",
    "broker_killed_snapshots": "`kill -9` of a Redis with its default snapshots only",
}
# The rows of the broker table (the others are the processes' table).
BROKER_CRASHES = ("broker", "broker_killed", "broker_killed_fsync", "broker_killed_snapshots")
# The table's columns, in order.
BROKERS = {
    "embedded": "embedded (folder + SQLite)",
    "redis": "Redis",
    "rabbitmq": "RabbitMQ (results in Redis)",
}
# Cells no test can fill, and what the table says instead.
NOT_APPLICABLE = {
    ("broker", "embedded"): "no broker process: the folder is the queue",
    ("broker_killed", "embedded"): "no broker process",
    ("broker_killed_fsync", "embedded"): "no broker process",
    ("broker_killed_fsync", "rabbitmq"): "a Redis setting (RabbitMQ: the confirms above)",
    ("broker_killed_snapshots", "embedded"): "no broker process",
    ("broker_killed_snapshots", "rabbitmq"): "no such setting: a durable queue is written to "
    "disk, and a publisher confirm follows the write",
}


@dataclass(frozen=True)
class Cell:
    crash: str  # a key of CRASHES
    broker: str  # a key of BROKERS
    outcome: str  # what happened to the job(s), as the test proved it
    seconds: float  # the time to recovery this run measured
    measures: str  # what that time counts, from what to what
    bound: float  # the most the test allows for it
    test: str = ""  # the node id of the test that measures it

    def shown(self) -> str:
        return (
            f"{self.outcome}: **{self.seconds:.1f} s**, {self.measures} (test: ≤ {self.bound:g} s)"
        )


class CrashTable(FigureKind[Cell]):
    name = "crash_cells"
    figure_type = Cell
    summary_title = "stage 5 crash recoveries measured by this run"
    stored_file = TABLE_JSON

    def key(self, figure: Cell) -> Hashable:
        return figure.crash, figure.broker

    def disagreement(self, stored: Cell, live: Cell) -> str | None:
        if (stored.outcome, stored.measures, stored.bound) != (
            live.outcome,
            live.measures,
            live.bound,
        ):
            return f"the page's {stored.shown()} is not what the test proves: {live.shown()}"
        if stored.seconds > stored.bound:
            return f"the page's {stored.shown()} is beyond its bound"
        return None

    def in_order(self, figures: list[Cell]) -> list[Cell]:
        return sorted(figures, key=lambda cell: _table_order((cell.crash, cell.broker)))

    def rendered(self, stored: list[Cell]) -> dict[Path, str]:
        cells = {(cell.crash, cell.broker): cell for cell in stored}
        processes = [crash for crash in CRASHES if crash not in BROKER_CRASHES]
        return {
            TABLE_MD: render(cells, processes, list(BROKERS)),
            BROKER_TABLE_MD: render(cells, list(BROKER_CRASHES), ["redis", "rabbitmq"]),
        }

    def summary(self, live: list[Cell]) -> str:
        return "\n".join(
            f"{cell.crash:<15} {cell.broker:<9} {cell.seconds:5.2f} s  {cell.outcome}"
            for cell in self.in_order(live)
        )


KIND = CrashTable()


def check(request: pytest.FixtureRequest, cell: Cell) -> None:
    """Fail if the time is beyond the test's bound; record the cell for the page's check."""
    assert cell.seconds <= cell.bound, f"{cell.crash} on {cell.broker}: {cell.shown()}"
    KIND.record(request, cell)


def stored_cells() -> dict[tuple[str, str], Cell]:
    return {(cell.crash, cell.broker): cell for cell in KIND.stored().values()}


def render(cells: dict[tuple[str, str], Cell], crashes: list[str], brokers: list[str]) -> str:
    """A Markdown table: a row per crash, a column per broker."""
    lines = [
        "| crash | " + " | ".join(BROKERS[broker] for broker in brokers) + " |",
        "|---|" + "---|" * len(brokers),
    ]
    for crash in crashes:
        shown = [_shown(cells, crash, broker) for broker in brokers]
        lines.append(f"| {CRASHES[crash]} | " + " | ".join(shown) + " |")
    return "\n".join(lines) + "\n"


def missing_cells(cells: dict[tuple[str, str], Cell]) -> list[tuple[str, str]]:
    """The table's cells that neither a measurement nor NOT_APPLICABLE fills."""
    return [
        (crash, broker)
        for crash in CRASHES
        for broker in BROKERS
        if (crash, broker) not in cells and (crash, broker) not in NOT_APPLICABLE
    ]


def _shown(cells: dict[tuple[str, str], Cell], crash: str, broker: str) -> str:
    if (crash, broker) in NOT_APPLICABLE:
        return NOT_APPLICABLE[crash, broker]
    cell = cells.get((crash, broker))
    return cell.shown() if cell else "not measured"


def _table_order(key: tuple[str, str]) -> tuple[int, int]:
    crash, broker = key
    return list(CRASHES).index(crash), list(BROKERS).index(broker)
