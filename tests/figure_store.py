"""What a test run measures, kept for the docs: record, check, store, render, in one way for all.

A figure is one record a test makes of what it measured: a pitfall's timing
(tests/pitfall_figures.py), a cell of stage 5's crash table (tests/crash_table.py), a test's
seconds for the work order (tests/work_order.py), a stage's one-job timing for the summary table
(STAGE_TIMINGS below). Each kind is a `FigureKind`, listed once in `kinds()`:

- record: a test (or the run) records a figure with `kind.record(request, figure)`;
- check: a normal run compares each figure, as it is recorded, with the stored one the page
  shows, and after each passing test checks that every stored figure of that test was measured
  again (so the page shows nothing a test no longer measures);
- store: `pytest --write-figures` skips those checks; when the run ends, the controller (every
  xdist worker hands its figures over) replaces the stored figures of every test that passed
  with the ones it measured, and keeps the rest, so a partial run stores what it ran;
- render: the Markdown files the docs include are rendered from the stored figures, then and
  only then; tests/test_figure_store.py checks that each file is what its figures render to.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Any, Generic, TypeVar

import pytest

from uvicorn_harness.stage_timing import StageTiming, format_table

WRITE_OPTION = "--write-figures"

F = TypeVar("F")
LIVE = pytest.StashKey[dict[str, dict[Hashable, Any]]]()  # kind name -> key -> figure
PASSED = pytest.StashKey[set[str]]()  # the node ids of the tests that passed


class FigureKind(Generic[F]):
    """One kind of figure. The defaults keep nothing: a kind with a file overrides `stored_file`
    and says how its figures are told apart, compared, rendered and summarised."""

    name: str  # the kind's name in the stash and in the xdist hand-off
    figure_type: type[F]
    summary_title: str | None = None  # the heading of its lines in the terminal summary
    stored_file: Path | None = None  # a JSON list of figures, for kinds the docs show

    def key(self, figure: F) -> Hashable:
        """What tells two figures of this kind apart (a later one with the same key wins)."""
        return figure

    def test_of(self, figure: F) -> str | None:
        """The node id of the test that measured it, for kinds whose figures say so."""
        test: str | None = getattr(figure, "test", None)
        return test

    def disagreement(self, stored: F, live: F) -> str | None:
        """Why the stored figure (the page's) does not agree with a live one, if it does not."""
        return None

    def rendered(self, stored: list[F]) -> dict[Path, str]:
        """Each file the docs include, and its text as these stored figures render it."""
        return {}

    def summary(self, live: list[F]) -> str:
        """Lines for the terminal summary of the run."""
        return ""

    def from_fields(self, fields: dict[str, Any]) -> F:
        return self.figure_type(**fields)

    def to_fields(self, figure: F) -> dict[str, Any]:
        return dataclasses.asdict(figure)  # type: ignore[call-overload, no-any-return]

    # --- the run: record, check, store -------------------------------------------------------

    def record(self, request: pytest.FixtureRequest, figure: F) -> F:
        """Keep a live figure; in a normal run, fail if the page's figure does not agree.

        A figure with a `test` field is stamped with the node id of the test recording it."""
        if "test" in {field.name for field in dataclasses.fields(figure)}:  # type: ignore[arg-type]
            figure = dataclasses.replace(figure, test=request.node.nodeid)  # type: ignore[type-var]
        self.keep(request.config, figure)
        if self.stored_file is not None and not writing(request.config):
            page = self.stored().get(self.key(figure))
            assert page is not None, f"{self.name}: {self.key(figure)} is not on the page"
            problem = self.disagreement(page, figure)
            assert problem is None, f"{self.name}: {problem}; {WRITE_OPTION} stores this run's"
        return figure

    def keep(self, config: pytest.Config, figure: F) -> None:
        config.stash.setdefault(LIVE, {}).setdefault(self.name, {})[self.key(figure)] = figure

    def live(self, config: pytest.Config) -> list[F]:
        return list(config.stash.get(LIVE, {}).get(self.name, {}).values())

    def live_figure(self, config: pytest.Config, key: Hashable) -> F | None:
        figure: F | None = config.stash.get(LIVE, {}).get(self.name, {}).get(key)
        return figure

    def stored(self) -> dict[Hashable, F]:
        if self.stored_file is None or not self.stored_file.exists():
            return {}
        fields = json.loads(self.stored_file.read_text(encoding="utf-8"))
        return {self.key(figure): figure for figure in map(self.from_fields, fields)}

    def not_measured_again(self, config: pytest.Config, test: str) -> list[str]:
        """The stored figures of `test` that it did not record in this run."""
        live = {self.key(figure) for figure in self.live(config) if self.test_of(figure) == test}
        return [
            str(key)
            for key, figure in self.stored().items()
            if self.test_of(figure) == test and key not in live
        ]

    def store(self, live: list[F], passed: set[str]) -> None:
        """Replace the stored figures of the tests that passed with theirs; render the files."""
        if self.stored_file is None:
            return
        kept = [f for f in self.stored().values() if self.test_of(f) not in passed]
        measured = [f for f in live if self.test_of(f) in passed]
        figures = list({self.key(f): f for f in [*kept, *measured]}.values())
        figures = self.in_order(figures)
        self.stored_file.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps([self.to_fields(f) for f in figures], indent=2, ensure_ascii=False)
        self.stored_file.write_text(text + "\n", encoding="utf-8")
        for path, rendered in self.rendered(figures).items():
            path.write_text(rendered, encoding="utf-8")

    def in_order(self, figures: list[F]) -> list[F]:
        """The order the stored file keeps them in."""
        return figures


class StageTimings(FigureKind[StageTiming]):
    """One job measured on each stage's server, for the table that ends the run."""

    name = "stage_timings"
    figure_type = StageTiming
    summary_title = "stage timings measured by this run (one job each)"

    def from_fields(self, fields: dict[str, Any]) -> StageTiming:
        tuples = {key: tuple(fields[key]) for key in ("console_order", "console")}
        return StageTiming(**(fields | tuples))

    def summary(self, live: list[StageTiming]) -> str:
        return format_table(live)


STAGE_TIMINGS = StageTimings()


def kinds() -> tuple[FigureKind[Any], ...]:
    """Every kind of figure the run records: a new kind is a `FigureKind` and a line here."""
    from tests import crash_table, pitfall_figures, work_order

    return (STAGE_TIMINGS, pitfall_figures.KIND, crash_table.KIND, work_order.KIND)


def writing(config: pytest.Config) -> bool:
    return bool(config.getoption(WRITE_OPTION))


def add_option(parser: pytest.Parser) -> None:
    parser.addoption(
        WRITE_OPTION,
        action="store_true",
        help="store the figures this run measures (docs/pitfalls, docs/step5, tests/durations."
        "json) and render the docs' tables from them, instead of checking them",
    )


def note_passed(config: pytest.Config, report: pytest.TestReport) -> None:
    """Where the test runs: keep its node id once it has passed."""
    if report.when == "call" and report.passed:
        config.stash.setdefault(PASSED, set()).add(report.nodeid)


def hand_off(config: pytest.Config) -> dict[str, Any]:
    """An xdist worker's figures, and the tests that passed on it, as plain data."""
    passed: set[str] = config.stash.get(PASSED, set())
    return {
        "figures": {kind.name: [kind.to_fields(f) for f in kind.live(config)] for kind in kinds()},
        "passed": sorted(passed),
    }


def take_over(config: pytest.Config, handed_off: dict[str, Any]) -> None:
    """On the controller: keep what a finished xdist worker handed off."""
    for kind in kinds():
        for fields in handed_off.get("figures", {}).get(kind.name, []):
            kind.keep(config, kind.from_fields(fields))
    config.stash.setdefault(PASSED, set()).update(handed_off.get("passed", []))


def check_measured_again(config: pytest.Config, test: str) -> None:
    """After a passing test, in a normal run: every stored figure of it was measured again."""
    if writing(config):
        return
    for kind in kinds():
        missing = kind.not_measured_again(config, test)
        assert not missing, (
            f"{kind.name}: {', '.join(missing)} stored for {test}, which no longer measures "
            f"it; {WRITE_OPTION} stores this run's"
        )


def store_all(config: pytest.Config) -> None:
    """With --write-figures, when the run ends (on the controller): store every kind."""
    if writing(config):
        passed = config.stash.get(PASSED, set())
        for kind in kinds():
            kind.store(kind.live(config), passed)


def summaries(config: pytest.Config) -> Iterable[tuple[str, str]]:
    """(title, lines) for each kind with a summary and figures measured by this run."""
    for kind in kinds():
        live = kind.live(config)
        if kind.summary_title is not None and live:
            yield kind.summary_title, kind.summary(live)
