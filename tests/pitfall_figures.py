"""The figures the pitfall tests measure, and the files the Pitfalls page shows them from.

The page prints no number of its own: it includes docs/pitfalls/figures.md (one small table per
pitfall) and docs/pitfalls/summary.md (all of them), both rendered from figures.json. A normal
test run compares every live figure with the stored one, within that figure's tolerance;
`FIGURES=write` stores this run's figures and renders the tables again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import pytest

from uvicorn_harness.server import REPO_ROOT

FIGURES_DIR = REPO_ROOT / "docs" / "pitfalls"
FIGURES_JSON = FIGURES_DIR / "figures.json"
SECTIONS_MD = FIGURES_DIR / "figures.md"
SUMMARY_MD = FIGURES_DIR / "summary.md"
# `FIGURES=write` also stores stage 5's crash table (tests/crash_table.py).
WRITE_FIGURES = os.environ.get("FIGURES") == "write"

LIVE_FIGURES = pytest.StashKey[dict[str, "Figure"]]()

# The pitfalls with a timing or a share to show (8's memory comes from a script; 6, 7 and 9
# are behaviours, not numbers).
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
}


@dataclass(frozen=True)
class Figure:
    key: str  # stable name, also the figure's anchor in figures.json
    pitfall: int
    label: str  # what was measured, as the page's table says it
    value: float
    unit: str  # "s" (seconds) or "%"
    tolerance: float  # a live value agrees with the page's when it differs by at most this

    def shown(self) -> str:
        if self.unit == "%":
            return f"{self.value:.0f} %"
        return f"{self.value * 1000:.0f} ms" if self.value < 1 else f"{self.value:.2f} s"


def record(config: pytest.Config, figure: Figure) -> Figure:
    """Keep a live figure for the page check and the terminal summary."""
    config.stash.setdefault(LIVE_FIGURES, {})[figure.key] = figure
    return figure


def live_figures(config: pytest.Config) -> list[Figure]:
    return sorted(config.stash.get(LIVE_FIGURES, {}).values(), key=lambda f: f.pitfall)


def stored_figures() -> dict[str, Figure]:
    """The figures the page shows, as the last `FIGURES=write` run stored them."""
    if not FIGURES_JSON.exists():
        return {}
    return {
        key: Figure(key=key, **fields)
        for key, fields in json.loads(FIGURES_JSON.read_text(encoding="utf-8")).items()
    }


def store(figures: list[Figure]) -> None:
    """Replace figures.json with `figures` and render both tables from them."""
    ordered = sorted(figures, key=lambda f: f.pitfall)  # stable: each pitfall in test order
    fields = {figure.key: _without_key(figure) for figure in ordered}
    FIGURES_DIR.mkdir(parents=True, exist_ok=True)
    FIGURES_JSON.write_text(json.dumps(fields, indent=2) + "\n", encoding="utf-8")
    SECTIONS_MD.write_text(render_sections(ordered), encoding="utf-8")
    SUMMARY_MD.write_text(render_summary(ordered), encoding="utf-8")


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


def disagreements(live: Iterable[Figure], stored: dict[str, Figure]) -> list[str]:
    """Each live figure missing from the page, or further from the page's than its tolerance."""
    problems = []
    for figure in live:
        page = stored.get(figure.key)
        if page is None:
            problems.append(f"{figure.key}: measured {figure.shown()}, not on the page")
        elif abs(figure.value - page.value) > figure.tolerance:
            problems.append(
                f"{figure.key}: page says {page.shown()}, this run measured {figure.shown()} "
                f"(tolerance {figure.tolerance:g} {figure.unit})"
            )
    return problems


def format_figures(figures: list[Figure]) -> str:
    """The terminal summary: one line per live figure."""
    return "\n".join(f"pitfall {f.pitfall:>2}  {f.label}: {f.shown()}" for f in figures)


def _without_key(figure: Figure) -> dict[str, object]:
    fields = asdict(figure)
    del fields["key"]
    return fields
