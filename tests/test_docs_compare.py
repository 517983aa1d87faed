"""The Compare page's numbers and the timelines agree with stages measured afresh.

The page's table is the one `make compare` printed; each stage is served again as `make compare`
serves it, one job measured on it, and every figure on the page and every span in the timelines'
data files must be within COMPARE_TOLERANCE_SECONDS of that measurement. That each timeline is
what its data file draws is checked with every other chart, in test_docs_figures.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from bench import charts
from bench.compare import TABLE_FILE as COMPARE_TABLE
from bench.compare import serve_for_one_job
from bench.timeline import CLIENT, JOB, STACKED_FILE, stage_file
from tests.docs_build import CHINESE, EDITIONS, ENGLISH, Edition
from tests.docs_pages import pages_of
from uvicorn_harness.server import REPO_ROOT
from uvicorn_harness.stage_timing import StageTiming, format_table, measure_one_job
from uvicorn_harness.stages import STAGES as COMPARED_STAGES
from uvicorn_harness.stages import runs_jobs_in_workers

# How far a figure on the compare page may be from a fresh measurement: under half the gap between
# the stages (a whole job length, 1 s), above the noise of a loaded machine (with the suite's test
# processes sharing 2 cores, stage 5's first POST can take 0.42 s).
COMPARE_TOLERANCE_SECONDS = 0.45


def _seconds(figure: str) -> float:
    value, unit = figure.split()
    return float(value) / 1000 if unit == "ms" else float(value)


def compare_page_rows(edition: Edition = ENGLISH) -> list[list[str]]:
    """The cells of the timing table on compare.md (the table `make compare` prints)."""
    page = (edition.docs / "compare.md").read_text(encoding="utf-8")
    assert f'--8<-- "{COMPARE_TABLE.relative_to(REPO_ROOT)}"' in page, (
        f"{edition.language}/compare.md must include the table `make compare` wrote"
    )
    text = COMPARE_TABLE.read_text(encoding="utf-8")
    header = format_table([])
    assert header in text, "the table must be exactly as format_table prints it"
    after_header = text.split(header, 1)[1].lstrip("\n")
    table = after_header.strip().split("\n\n", 1)[0].splitlines()
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in table]


def measure_stage(stage: str, job_seconds: float) -> StageTiming:
    """Serve `stage` afresh, as `make compare` does, and measure one job on it."""
    with serve_for_one_job(stage, job_seconds) as server:
        return measure_one_job(server, stage, job_seconds)


@pytest.fixture(scope="module")
def live_timings() -> dict[str, StageTiming]:
    """Every compared stage measured afresh, with the page's job length, as `make compare` does.

    One stage after another: on 2 cores, one stage's startup (stage 5 starts a worker pool)
    would otherwise land inside another's measurement.
    """
    rows = compare_page_rows()
    return {row[0]: measure_stage(row[0], _seconds(row[1])) for row in rows}


# From stage 5 on the job runs in a worker process: its lines and the API's each keep their
# order, but not the order between them (the access line can follow "starting" on a busy machine).
WORKER_EVENTS = {"starting", "ending"}


def per_process(stage: str, order: Sequence[str]) -> tuple[list[str], list[str]]:
    """A console order split into the web process's events and the worker's."""
    worker = WORKER_EVENTS if runs_jobs_in_workers(stage) else set()
    return [e for e in order if e not in worker], [e for e in order if e in worker]


# How each edition's compare page says how close its figures are checked.
STATED_TOLERANCE = {
    ENGLISH.language: f"within {COMPARE_TOLERANCE_SECONDS} s of the",
    CHINESE.language: f"相差不超过 {COMPARE_TOLERANCE_SECONDS} 秒",
}


@pytest.mark.parametrize("edition", EDITIONS, ids=str)
def test_compare_page_table_agrees_with_a_live_measurement(
    live_timings: dict[str, StageTiming], edition: Edition
) -> None:
    rows = compare_page_rows(edition)
    assert [row[0] for row in rows] == list(COMPARED_STAGES), rows
    # The page tells the reader how close its figures are checked; keep that sentence honest.
    stated = STATED_TOLERANCE[edition.language]
    assert stated in (edition.docs / "compare.md").read_text(encoding="utf-8"), stated
    measured = [live_timings[row[0]] for row in rows]
    for (stage, _job, response, finished, order), live in zip(rows, measured, strict=True):
        assert per_process(stage, live.console_order) == per_process(stage, order.split(" → "))
        assert abs(live.response_seconds - _seconds(response)) < COMPARE_TOLERANCE_SECONDS, (
            f"{stage}: page says the response came after {response}, "
            f"measured {live.response_seconds:.3f} s"
        )
        assert abs(live.job_finished_seconds - _seconds(finished)) < COMPARE_TOLERANCE_SECONDS, (
            f"{stage}: page says the job finished after {finished}, "
            f"measured {live.job_finished_seconds:.3f} s"
        )


TIMELINES = [STACKED_FILE, *map(stage_file, COMPARED_STAGES)]


def _timeline(svg: Path) -> charts.Timeline:
    """A timeline's data file, with a row for each stage it is meant to show."""
    timeline = charts.load(svg)
    assert isinstance(timeline, charts.Timeline), svg.name
    expected = (
        list(COMPARED_STAGES) if svg == STACKED_FILE else [svg.stem.removeprefix("timeline-")]
    )
    assert [row.label for row in timeline.rows] == expected
    return timeline


def _events(row: charts.TimelineRow) -> dict[str, float]:
    return {
        "response": row.span(CLIENT).end,
        "job started": row.span(JOB).start,
        "job finished": row.span(JOB).end,
    }


@pytest.mark.parametrize("svg", TIMELINES, ids=lambda svg: svg.name)
def test_timelines_agree_with_a_live_measurement(
    svg: Path, live_timings: dict[str, StageTiming]
) -> None:
    for row in _timeline(svg).rows:
        live = live_timings[row.label]
        measured = {
            "response": live.response_seconds,
            "job started": live.job_started_seconds,
            "job finished": live.job_finished_seconds,
        }
        for event, seconds in _events(row).items():
            assert abs(seconds - measured[event]) < COMPARE_TOLERANCE_SECONDS, (
                f"{svg.name}: {row.label} {event} drawn at {seconds:.3f} s, "
                f"measured {measured[event]:.3f} s"
            )


def _half_a_digit(figure: str) -> float:
    """Half the last digit of a figure as the table prints it: "33 ms" 0.0005 s, "1.03 s" 0.005."""
    value, unit = figure.split()
    decimals = len(value.partition(".")[2])
    return 0.5 * 10**-decimals * (0.001 if unit == "ms" else 1.0)


@pytest.mark.parametrize("svg", TIMELINES, ids=lambda svg: svg.name)
def test_timelines_are_the_run_in_the_compare_table(svg: Path) -> None:
    # The same run: each figure the table prints is the data file's, rounded as the table
    # rounds it (the data file keeps 0.1 ms: half of that more).
    table = {row[0]: row for row in compare_page_rows()}
    for row in _timeline(svg).rows:
        _stage, _job, response, finished, _order = table[row.label]
        assert row.note == response, f"{svg.name}: {row.label} says {row.note}, table {response}"
        events = _events(row)
        for event, figure in [("response", response), ("job finished", finished)]:
            off = abs(events[event] - _seconds(figure))
            assert off <= _half_a_digit(figure) + 0.00005, f"{svg.name}: {row.label} {event}"


@pytest.mark.parametrize(
    ("edition", "page"), pages_of(lambda _edition: [f"{stage}.md" for stage in COMPARED_STAGES])
)
def test_each_stage_page_shows_its_timeline(edition: Edition, page: str) -> None:
    timeline = stage_file(page.removesuffix(".md"))
    assert f"(bench/{timeline.name})" in (edition.docs / page).read_text("utf-8")


@pytest.mark.parametrize("edition", EDITIONS, ids=str)
def test_compare_page_shows_every_stage_timeline_stacked(edition: Edition) -> None:
    assert f"(bench/{STACKED_FILE.name})" in (edition.docs / "compare.md").read_text("utf-8")
