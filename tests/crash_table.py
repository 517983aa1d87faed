"""Stage 5's crash table: what each crash did to a job on each broker, as a test run measured it.

The page prints no number of its own: it includes docs/step5/crashes.md, rendered from
docs/step5/crashes.json. Each crash test proves an outcome, measures how long recovery took,
and calls `check`, which fails when the page has no cell for that crash and broker, when the
page's outcome or bound is not the one the test enforces, or when the page's time is beyond
that bound. `FIGURES=write` stores this run's cells instead (merged over every xdist worker by
the controller, when the run ends) and renders the table again.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import pytest

from tests.pitfall_figures import WRITE_FIGURES
from uvicorn_harness.server import REPO_ROOT

TABLE_DIR = REPO_ROOT / "docs" / "step5"
TABLE_JSON = TABLE_DIR / "crashes.json"
TABLE_MD = TABLE_DIR / "crashes.md"

LIVE_CELLS = pytest.StashKey[dict[tuple[str, str], "Cell"]]()

# The table's rows, in order, as the page names them.
CRASHES = {
    "pool": "`kill -9` of the pool process running the job",
    "every_pool": "`kill -9` of every pool process",
    "worker": "`kill -9` of the whole worker, a second worker waiting",
    "api": "the API killed and restarted",
    "broker": "the broker restarted (Redis with `appendonly yes`)",
    "broker_killed": "`kill -9` of the broker, Redis with its default snapshots only",
}
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
    ("broker_killed", "rabbitmq"): "not measured",
}


@dataclass(frozen=True)
class Cell:
    crash: str  # a key of CRASHES
    broker: str  # a key of BROKERS
    outcome: str  # what happened to the job(s), as the test proved it
    seconds: float  # the time to recovery this run measured
    measures: str  # what that time counts, from what to what
    bound: float  # the most the test allows for it

    def shown(self) -> str:
        return (
            f"{self.outcome}: **{self.seconds:.1f} s**, {self.measures} (test: ≤ {self.bound:g} s)"
        )


def check(config: pytest.Config, cell: Cell) -> None:
    """Keep a live cell for the summary (and for `FIGURES=write`); fail if the page disagrees."""
    assert cell.seconds <= cell.bound, f"{cell.crash} on {cell.broker}: {cell.shown()}"
    keep(config, cell)
    if WRITE_FIGURES:
        return
    page = stored_cells().get((cell.crash, cell.broker))
    assert page is not None, f"the crash table has no cell for {cell.crash} on {cell.broker}"
    assert (page.outcome, page.measures, page.bound) == (cell.outcome, cell.measures, cell.bound)
    assert page.seconds <= page.bound, f"the page's {page.shown()} is beyond its bound"


def keep(config: pytest.Config, cell: Cell) -> None:
    config.stash.setdefault(LIVE_CELLS, {})[cell.crash, cell.broker] = cell


def live_cells(config: pytest.Config) -> list[Cell]:
    return list(config.stash.get(LIVE_CELLS, {}).values())


def stored_cells() -> dict[tuple[str, str], Cell]:
    if not TABLE_JSON.exists():
        return {}
    return {
        (cell.crash, cell.broker): cell
        for cell in (Cell(**fields) for fields in json.loads(TABLE_JSON.read_text("utf-8")))
    }


def store(cells: list[Cell]) -> None:
    """Merge this run's cells over the stored ones and render the table again."""
    merged = stored_cells() | {(cell.crash, cell.broker): cell for cell in cells}
    ordered = [merged[key] for key in sorted(merged, key=_table_order)]
    TABLE_DIR.mkdir(parents=True, exist_ok=True)
    fields = [asdict(cell) for cell in ordered]
    TABLE_JSON.write_text(json.dumps(fields, indent=2, ensure_ascii=False) + "\n", "utf-8")
    TABLE_MD.write_text(render(merged), "utf-8")


def render(cells: dict[tuple[str, str], Cell]) -> str:
    """The Markdown table: a row per crash, a column per broker."""
    lines = [
        "| crash | " + " | ".join(BROKERS.values()) + " |",
        "|---|" + "---|" * len(BROKERS),
    ]
    for crash, label in CRASHES.items():
        shown = [_shown(cells, crash, broker) for broker in BROKERS]
        lines.append(f"| {label} | " + " | ".join(shown) + " |")
    return "\n".join(lines) + "\n"


def missing_cells(cells: dict[tuple[str, str], Cell]) -> list[tuple[str, str]]:
    """The table's cells that neither a measurement nor NOT_APPLICABLE fills."""
    return [
        (crash, broker)
        for crash in CRASHES
        for broker in BROKERS
        if (crash, broker) not in cells and (crash, broker) not in NOT_APPLICABLE
    ]


def format_cells(cells: list[Cell]) -> str:
    """The terminal summary: one line per crash measured by this run."""
    return "\n".join(
        f"{cell.crash:<15} {cell.broker:<9} {cell.seconds:5.2f} s  {cell.outcome}"
        for cell in sorted(cells, key=lambda cell: _table_order((cell.crash, cell.broker)))
    )


def _shown(cells: dict[tuple[str, str], Cell], crash: str, broker: str) -> str:
    if (crash, broker) in NOT_APPLICABLE:
        return NOT_APPLICABLE[crash, broker]
    cell = cells.get((crash, broker))
    return cell.shown() if cell else "not measured"


def _table_order(key: tuple[str, str]) -> tuple[int, int]:
    crash, broker = key
    return list(CRASHES).index(crash), list(BROKERS).index(broker)
