"""The figures the pitfall tests measure, and the files the Pitfalls page shows them from.

The page prints no number of its own: it includes docs/pitfalls/figures.md (one small table per
pitfall) and docs/pitfalls/summary.md (all of them), both rendered from figures.json. Each test
records its figures with `record_figure`, which (tests/figure_store.py) fails the test when the
page's figure is further from the live one than that figure's tolerance; `--write-figures`
stores the run's figures and renders the tables again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.figure_store import FigureKind
from uvicorn_harness.server import REPO_ROOT

FIGURES_DIR = REPO_ROOT / "docs" / "pitfalls"
FIGURES_JSON = FIGURES_DIR / "figures.json"
SECTIONS_MD = FIGURES_DIR / "figures.md"
SUMMARY_MD = FIGURES_DIR / "summary.md"

# The pitfalls with a timing or a share to show (8's and 15's memory come from scripts; 6, 7
# and 9 are behaviours, not numbers).
PITFALL_TITLES = {
    1: "In-process test clients wait for background tasks",
    2: "`async def` + `time.sleep` freezes the whole server",
    3: "The shared thread pool starves",
    4: "Several workers split the dict",
    5: "A restart forgets everything",
    10: "Browsers serialise identical requests",
    11: "A `yield` dependency's session in a background task",
    12: "`asyncio.create_task` instead of `BackgroundTasks`",
    13: '`@app.middleware("http")` and background tasks',
    14: "Async code inside a Celery task",
}


@dataclass(frozen=True)
class Figure:
    key: str  # stable name, starting with its pitfall's number ("p3_...")
    pitfall: int
    label: str  # what was measured, as the page's table says it
    value: float
    unit: str  # "s" (seconds) or "%"
    tolerance: float  # a live value agrees with the page's when it differs by at most this
    test: str = ""  # the node id of the test that measures it

    def shown(self) -> str:
        if self.unit == "%":
            return f"{self.value:.0f} %"
        return f"{self.value * 1000:.0f} ms" if self.value < 1 else f"{self.value:.2f} s"


class PitfallFigures(FigureKind[Figure]):
    name = "pitfall_figures"
    figure_type = Figure
    summary_title = "pitfall figures measured by this run"
    stored_file = FIGURES_JSON

    def key(self, figure: Figure) -> str:
        return figure.key

    def disagreement(self, stored: Figure, live: Figure) -> str | None:
        if abs(live.value - stored.value) <= live.tolerance:
            return None
        return (
            f"{live.key}: page says {stored.shown()}, this run measured {live.shown()} "
            f"(tolerance {live.tolerance:g} {live.unit})"
        )

    def in_order(self, figures: list[Figure]) -> list[Figure]:
        return sorted(figures, key=lambda f: f.pitfall)  # stable: each pitfall in test order

    def rendered(self, stored: list[Figure]) -> dict[Path, str]:
        ordered = self.in_order(stored)
        return {SECTIONS_MD: render_sections(ordered), SUMMARY_MD: render_summary(ordered)}

    def summary(self, live: list[Figure]) -> str:
        return "\n".join(
            f"pitfall {f.pitfall:>2}  {f.label}: {f.shown()}" for f in self.in_order(live)
        )


KIND = PitfallFigures()


def record_figure(
    request: pytest.FixtureRequest, key: str, label: str, value: float, tolerance: float
) -> Figure:
    """Record a measured figure; its key starts with its pitfall's number ("p3_..."), a share's
    ends with "_share"."""
    pitfall = int(key[1:].split("_", 1)[0])
    unit = "%" if key.endswith("_share") else "s"
    return KIND.record(request, Figure(key, pitfall, label, value, unit, tolerance))


def render_sections(figures: list[Figure]) -> str:
    """One table per pitfall, each between snippet section markers named `pitfallN`."""
    parts = []
    for pitfall in sorted({figure.pitfall for figure in figures}):
        rows = [f"| {f.label} | {f.shown()} |" for f in figures if f.pitfall == pitfall]
        parts += [
            f"<!-- --8<-- [start:pitfall{pitfall}] -->",
            "| measured in this repo | figure |",
            "|---|---:|",
            *rows,
            f"<!-- --8<-- [end:pitfall{pitfall}] -->",
            "",
        ]
    return "\n".join(parts)


def render_summary(figures: list[Figure]) -> str:
    rows = ["| pitfall | measured in this repo | figure |", "|---|---|---:|"]
    rows += [
        f"| {f.pitfall}. {PITFALL_TITLES[f.pitfall]} | {f.label} | {f.shown()} |" for f in figures
    ]
    return "\n".join(rows) + "\n"
