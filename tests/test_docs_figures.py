"""The charts: each drawn by the script that measures it, from a data file next to it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from xml.etree import ElementTree

import pytest

from bench.charts import read_points
from bench.report import WALL_DATA_NAME, read_wall_chart
from bench.step4_bounded import PAGE_CHART as BOUNDED_CHART
from bench.step4_bounded import PAGE_TABLE as BOUNDED_TABLE
from bench.step4_bounded import read_table as read_bounded_table
from pitfalls.measure_memory import CHART_FILE as MEMORY_CHART
from pitfalls.measure_memory import FIGURE_FILE as MEMORY_TABLE
from pitfalls.measure_memory import read_table as read_memory_table
from tests.docs_build import DOCS, EDITIONS, Edition
from tests.docs_pages import page_with_includes


def _stamped(svg_text: str) -> bool:
    """The chart's visible text says when (date and time) and where (CPUs, Python)."""
    shown = " ".join(ElementTree.fromstring(svg_text).itertext())
    return bool(re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC .*\d+\s+CPUs.*Python", shown))


def test_wall_time_chart_is_drawn_from_its_data_file() -> None:
    folder = DOCS / "bench"
    svg = (folder / "wall-time.svg").read_text(encoding="utf-8")
    data = json.loads((folder / WALL_DATA_NAME).read_text(encoding="utf-8"))
    drawn = read_wall_chart(svg)
    assert list(drawn) == [row["label"] for row in data["rows"]]
    for row in data["rows"]:
        units = row["seconds"] / data["job_seconds"]
        assert drawn[row["label"]] == pytest.approx(units, rel=0.01), row["label"]
    # The data file holds the same run as the tables: each wall time is in results.md's table.
    results = (folder / "results.md").read_text(encoding="utf-8")
    for row in data["rows"]:
        assert f"| {row['seconds']:.2f} s |" in results, row
    assert data["stamp"] == results.splitlines()[0]
    assert _stamped(svg)
    for edition in EDITIONS:
        page = (edition.docs / "compare.md").read_text(encoding="utf-8")
        assert "(bench/wall-time.svg)" in page, f"{edition.language}/compare.md"


@pytest.mark.parametrize(
    ("chart", "page"), [(BOUNDED_CHART, "step4_database.md"), (MEMORY_CHART, "pitfalls.md")]
)
@pytest.mark.parametrize("edition", EDITIONS, ids=str)
def test_measured_chart_is_stamped_and_shown(chart: Path, page: str, edition: Edition) -> None:
    svg = chart.read_text(encoding="utf-8")
    assert _stamped(svg), f"{chart.name} is not stamped"
    link = f"({chart.relative_to(DOCS).as_posix()})"
    texts = page_with_includes(edition, page)
    assert any(link in text for text in texts), f"{edition.language}/{page} does not show {link}"


def test_bounded_chart_matches_its_table() -> None:
    samples = read_bounded_table(BOUNDED_TABLE.read_text(encoding="utf-8"))
    drawn = read_points(BOUNDED_CHART.read_text(encoding="utf-8"))
    rows = next(points for (panel, series), points in drawn.items() if series == "rows")
    assert [round(x) for x, _ in rows] == [sample.tasks for sample in samples]
    assert [round(y) for _, y in rows] == [sample.rows for sample in samples]
    sizes = {series: points for (_panel, series), points in drawn.items() if series != "rows"}
    for series, attribute in [
        ("server RSS", "rss_bytes"),
        ("tasks.db-wal", "wal_bytes"),
        ("tasks.db", "database_bytes"),
    ]:
        expected = [getattr(sample, attribute) / 2**20 for sample in samples]
        assert [y for _, y in sizes[series]] == pytest.approx(expected, abs=0.06), series


def test_memory_chart_matches_its_table() -> None:
    points = read_memory_table(MEMORY_TABLE.read_text(encoding="utf-8"))
    assert len(points) >= 2
    ((_, drawn),) = read_points(MEMORY_CHART.read_text(encoding="utf-8")).items()
    assert [x for x, _ in drawn] == pytest.approx([x for x, _ in points], abs=1)
    assert [y for _, y in drawn] == pytest.approx([y for _, y in points], abs=0.01)
