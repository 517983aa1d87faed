"""The charts: each drawn by bench/charts.py from a data file beside it, and readable.

Every SVG under docs/ is a chart with its data file. A chart must be exactly what its data file
draws (drawn again here and compared, byte for byte), stamped, shown by a page of each edition,
and readable on either colour scheme. Each data file is checked against the measurement it came
from: the table the same run wrote (here), or a fresh run (the timelines: test_docs_compare.py).
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from bench import charts
from bench.report import chart_stamp
from bench.step4_bounded import MIB
from bench.step4_bounded import PAGE_CHART as BOUNDED_CHART
from bench.step4_bounded import PAGE_TABLE as BOUNDED_TABLE
from bench.step4_bounded import read_table as read_bounded_table
from pitfalls.measure_memory import CHART_FILE as MEMORY_CHART
from pitfalls.measure_memory import FIGURE_FILE as MEMORY_TABLE
from pitfalls.measure_memory import read_table as read_memory_table
from pitfalls.measure_worker_memory import CHART_FILE as WORKER_CHART
from pitfalls.measure_worker_memory import TABLE_FILE as WORKER_TABLE
from pitfalls.measure_worker_memory import read_memory_table as read_worker_table
from tests.chart_svg import ChartSvg, contrast
from tests.docs_build import DOCS, EDITIONS, Edition
from tests.docs_pages import images, nav_pages

CHARTS = charts.charts_in(DOCS)
WALL_CHART = DOCS / "bench" / "wall-time.svg"
# WCAG 2.1 AA: text 1.4.3 (4.5:1), lines and bars that carry a value 1.4.11 (3:1).
MIN_TEXT_CONTRAST = 4.5
MIN_SHAPE_CONTRAST = 3.0
STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC .*\bon \d+ CPUs \(.+\), Python \d+\.\d+.*; ")


def _name(svg: Path) -> str:
    return svg.relative_to(DOCS).as_posix()


def test_the_charts_are_found() -> None:
    assert {WALL_CHART, BOUNDED_CHART, MEMORY_CHART, WORKER_CHART} <= set(CHARTS), CHARTS


@pytest.mark.parametrize("svg", CHARTS, ids=_name)
def test_chart_is_what_its_data_file_draws(svg: Path) -> None:
    assert charts.data_file(svg).exists(), (
        f"{_name(svg)} has no data file: draw it with charts.write"
    )
    assert svg.read_text(encoding="utf-8") == charts.draw(charts.load(svg)), (
        f"{_name(svg)} is not what {charts.data_file(svg).name} draws: python -m bench.charts"
    )


@pytest.mark.parametrize("svg", CHARTS, ids=_name)
def test_chart_is_stamped_with_date_cpus_and_versions(svg: Path) -> None:
    stamp = charts.load(svg).stamp
    assert STAMP.search(stamp), stamp
    assert re.search(r"\bfastapi \d+\.\d+", stamp), stamp
    shown = " ".join(text.text for text in ChartSvg.parse(svg.read_text("utf-8")).texts())
    assert stamp in shown, f"{_name(svg)} does not show its stamp"


@pytest.mark.parametrize("edition", EDITIONS, ids=str)
def test_every_chart_is_shown_and_every_svg_shown_is_a_chart(edition: Edition) -> None:
    shown = {
        path for page in nav_pages(edition) for path in images(page, edition) if ".svg" in path
    }
    assert shown == {_name(svg) for svg in CHARTS}, edition


@pytest.mark.parametrize("svg", CHARTS, ids=_name)
def test_chart_reads_on_its_own_background_in_either_scheme(svg: Path) -> None:
    # An opaque background of its own (ChartSvg.background checks it covers the whole chart):
    # the page's scheme, light or dark, never shows through, so one check holds for both.
    chart = ChartSvg.parse(svg.read_text(encoding="utf-8"))
    background = chart.background
    assert chart.opacities() == [], "contrast is computed on opaque colours"
    faint_text = [
        f"{text.text!r} in {text.colour}: {contrast(text.colour, background):.2f}:1"
        for text in chart.texts()
        if contrast(text.colour, background) < MIN_TEXT_CONTRAST
    ]
    assert faint_text == [], f"{_name(svg)} on {background}: {faint_text}"
    # Grid lines only guide the eye (the tick labels carry the values): the one colour allowed
    # to be faint.
    faint_shapes = [
        f"{colour}: {contrast(colour, background):.2f}:1"
        for colour in chart.shape_colours() - {background, charts.GRID}
        if contrast(colour, background) < MIN_SHAPE_CONTRAST
    ]
    assert faint_shapes == [], f"{_name(svg)} on {background}: {faint_shapes}"


TRANSPARENT_CHART = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 20">
<path d="M 0 20 L 100 20 L 100 0 L 0 0 z" style="fill: none"/>
<text x="0" y="15" style="font-size: 12px; fill: #888888">3.5:1 on white, 4.5:1 on slate</text>
</svg>"""


def test_the_contrast_check_refuses_a_chart_the_page_shows_through() -> None:
    # What the charts were: #888888 text on no background of their own, so its contrast
    # depended on the scheme. The check cannot pick a background for it, and fails.
    with pytest.raises(AssertionError, match="not an opaque colour"):
        _ = ChartSvg.parse(TRANSPARENT_CHART).background
    assert contrast("#888888", "#ffffff") < MIN_TEXT_CONTRAST


def _wall_rows(results: str) -> list[list[str]]:
    """The wall-time table of results.md: stage, runs jobs in, wall time, in units of D."""
    header = "| stage | runs jobs in | wall time | in units of D |"
    block = results.split(header, 1)[1].strip().split("\n\n", 1)[0].splitlines()[1:]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in block]


def test_wall_time_data_is_the_run_in_results_md() -> None:
    chart = charts.load(WALL_CHART)
    assert isinstance(chart, charts.LogBarChart)
    results = (DOCS / "bench" / "results.md").read_text(encoding="utf-8")
    rows = _wall_rows(results)
    assert [f"{bar.value:.1f}" for bar in chart.bars] == [row[3] for row in rows]
    assert [bar.note for bar in chart.bars] == [f"{row[3]}·D ({row[2]})" for row in rows]
    assert chart.stamp == chart_stamp(results.splitlines()[0])


def _series(chart: charts.Chart) -> dict[str, list[tuple[float, float]]]:
    assert isinstance(chart, charts.LineChart)
    return {series.name: series.points for panel in chart.panels for series in panel.series}


def test_bounded_data_is_the_stage_4_pages_table() -> None:
    samples = read_bounded_table(BOUNDED_TABLE.read_text(encoding="utf-8"))
    series = _series(charts.load(BOUNDED_CHART))
    assert series["rows"] == [(sample.tasks, sample.rows) for sample in samples]
    for name, size in [
        ("server RSS", lambda sample: sample.rss_bytes),
        ("tasks.db-wal", lambda sample: sample.wal_bytes),
        ("tasks.db", lambda sample: sample.database_bytes),
    ]:
        # The table shows MiB to 0.1, and so does the chart.
        assert series[name] == [(s.tasks, round(size(s) / MIB, 1)) for s in samples], name


def test_memory_data_is_the_pitfalls_pages_table() -> None:
    points = read_memory_table(MEMORY_TABLE.read_text(encoding="utf-8"))
    assert len(points) >= 2
    assert _series(charts.load(MEMORY_CHART)) == {"server RSS": points}


def test_worker_memory_data_is_the_pitfalls_pages_table() -> None:
    table = read_worker_table(WORKER_TABLE.read_text(encoding="utf-8"))
    chart = charts.load(WORKER_CHART)
    assert isinstance(chart, charts.LineChart)
    pool, parent = ({s.name: s.points for s in panel.series} for panel in chart.panels)
    assert len(pool) == len(table) == 3
    for (name, points), cells in zip(pool.items(), table.values(), strict=True):
        processes, last, highest, parents = cells
        rss = [y for _, y in points]
        # Every replaced process is drawn by its last job and the next process's first: a drop.
        drops = sum(after < before for before, after in itertools.pairwise(rss))
        assert drops == int(processes) - 1, name
        assert (f"{rss[-1]:.1f} MiB", f"{max(rss):.1f} MiB") == (last, highest), name
        first_parent, last_parent = parent[name][0][1], parent[name][-1][1]
        assert parents == f"{first_parent:.1f} → {last_parent:.1f} MiB", name
