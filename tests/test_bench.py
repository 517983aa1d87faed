"""`python -m bench --quick`: the benchmark runs end to end, so it never rots.

One real run per module (every stage served under uvicorn, stage 5 with its Celery worker),
at sizes too small to mean anything: these tests check the output's shape, never the speed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from bench import charts
from bench.measure import percentile
from bench.report import WALL_CHART_NAME
from bench.run import QUICK
from bench.stages import STAGES
from uvicorn_harness.server import REPO_ROOT

# A run takes about 15 s on a quiet 2-core machine; the bound only catches a hang.
RUN_TIMEOUT = 180
NUMBER = r"\d+(\.\d+)?"
DURATION = re.compile(rf"^{NUMBER} (ms|s)$")
LATENCY_PAIR = re.compile(rf"^{NUMBER} (ms|s) / {NUMBER} (ms|s)( \(\d+ in flight\))?$")
RATIO = re.compile(rf"^{NUMBER}\u00d7$")
MEBIBYTES = re.compile(rf"^-?{NUMBER} MiB$")


@dataclass(frozen=True)
class BenchRun:
    markdown: str
    chart: Path  # the SVG written next to the markdown, with its data file
    stdout: str
    marker: str  # in the environment of every process the run started


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> BenchRun:
    output = tmp_path_factory.mktemp("bench") / "results.md"
    marker = uuid.uuid4().hex
    finished = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(output)],
        cwd=REPO_ROOT,
        env={**os.environ, "BENCH_SMOKE_RUN": marker},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return BenchRun(output.read_text(), output.parent / WALL_CHART_NAME, finished.stdout, marker)


def tables(markdown: str) -> dict[str, list[list[str]]]:
    """Every markdown table, keyed by its header row, as rows of stripped cells."""
    found: dict[str, list[list[str]]] = {}
    for block in markdown.split("\n\n"):
        lines = block.strip().splitlines()
        if len(lines) >= 2 and lines[0].startswith("|") and set(lines[1]) <= set("|-: "):
            rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]
            found[lines[0]] = rows
    return found


def table_starting(markdown: str, first_column: str, containing: str) -> list[list[str]]:
    matches = [
        rows
        for header, rows in tables(markdown).items()
        if header.startswith(f"| {first_column} |") and containing in header
    ]
    assert len(matches) == 1, f"one table with {containing!r} expected, found {len(matches)}"
    return matches[0]


def test_results_are_stamped_with_date_cpus_and_versions(bench_run: BenchRun) -> None:
    stamp = bench_run.markdown.splitlines()[0]
    assert re.match(r"^Measured \d{4}-\d\d-\d\d \d\d:\d\d UTC by `make bench`", stamp)
    assert f"on {os.cpu_count()} CPUs" in stamp
    for package in ("fastapi", "starlette", "uvicorn", "celery", "sqlalchemy"):
        assert re.search(rf"\b{package} \d+\.\d+", stamp), package


def test_post_latency_has_a_row_per_stage_with_the_empty_endpoint(bench_run: BenchRun) -> None:
    rows = table_starting(bench_run.markdown, "stage", "empty")
    assert [row[0] for row in rows] == [stage.title for stage in STAGES]
    for row in rows:
        for clients in (slice(1, 4), slice(4, 7)):
            job, empty, ratio = row[clients]
            assert LATENCY_PAIR.match(job) and LATENCY_PAIR.match(empty), row
            assert RATIO.match(ratio), row


def test_status_latency_has_every_level_for_every_stage_with_status(bench_run: BenchRun) -> None:
    rows = table_starting(bench_run.markdown, "stage", "in flight")
    assert [row[0] for row in rows] == [stage.title for stage in STAGES if stage.has_status]
    for row in rows:
        assert len(row) == 1 + len(QUICK.status_levels) + 1, row
        assert all(LATENCY_PAIR.match(cell) for cell in row[1:-1]), row
        assert RATIO.match(row[-1]), row


def test_wall_time_covers_each_stage_and_each_worker_concurrency(bench_run: BenchRun) -> None:
    rows = table_starting(bench_run.markdown, "stage", "wall time")
    expected = [
        (stage.title, concurrency)
        for stage in STAGES
        if not stage.post_only
        for concurrency in sorted(stage.worker_concurrencies or [None])
    ]
    assert [row[0] for row in rows] == [title for title, _ in expected]
    for row, (_, concurrency) in zip(rows, expected, strict=True):
        assert row[1] == (
            "the web process" if concurrency is None else f"a worker, concurrency {concurrency}"
        )
        assert DURATION.match(row[2]), row
        # Jobs cannot all end before one job's length has passed.
        assert float(row[3]) >= 1.0, row


def test_chart_draws_one_bar_per_wall_time_row(bench_run: BenchRun) -> None:
    chart = charts.load(bench_run.chart)
    assert isinstance(chart, charts.LogBarChart)
    rows = table_starting(bench_run.markdown, "stage", "wall time")
    # Each bar is the table's figure, in units of D, and says so at its end.
    assert [f"{bar.value:.1f}" for bar in chart.bars] == [row[3] for row in rows]
    assert [bar.note for bar in chart.bars] == [f"{row[3]}\u00b7D ({row[2]})" for row in rows]
    assert bench_run.chart.read_text(encoding="utf-8") == charts.draw(chart)


def test_memory_growth_is_measured_where_tasks_leave_something_behind(
    bench_run: BenchRun,
) -> None:
    rows = table_starting(bench_run.markdown, "stage", "growth per")
    assert [row[0] for row in rows] == [stage.title for stage in STAGES if stage.measure_memory]
    assert all(MEBIBYTES.match(cell) for row in rows for cell in row[1:]), rows


def test_targets_name_every_stage_they_apply_to(bench_run: BenchRun) -> None:
    rows = table_starting(bench_run.markdown, "target", "met")
    post_rows = [row for row in rows if row[0].startswith("`POST`")]
    status_rows = [row for row in rows if row[0].startswith("`GET /status`")]
    assert len(post_rows) == 2 * sum(int(stage.number) >= 2 for stage in STAGES)
    assert len(status_rows) == sum(int(stage.number) >= 4 and stage.has_status for stage in STAGES)
    assert {row[3] for row in rows} <= {"yes", "**no**"}


def test_progress_is_printed_stage_by_stage_while_it_runs(bench_run: BenchRun) -> None:
    progress = [
        line for line in bench_run.stdout.splitlines() if re.match(r"^\s*\d+\.\d s  ", line)
    ]
    elapsed = [float(line.split()[0]) for line in progress]
    assert elapsed == sorted(elapsed)
    for position, stage in enumerate(STAGES, start=1):
        assert any(
            f"[{position}/{len(STAGES)} {stage.package}] serving" in line for line in progress
        )
    assert bench_run.stdout.rstrip().endswith(WALL_CHART_NAME)


def test_no_process_the_bench_started_outlives_it(bench_run: BenchRun) -> None:
    survivors = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("BENCH_SMOKE_RUN") == bench_run.marker:
                survivors.append(process.pid)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    assert survivors == []


def test_percentiles_are_measured_values_by_nearest_rank() -> None:
    samples = [float(value) for value in range(1, 101)]
    assert percentile(samples, 50) == 50.0
    assert percentile(samples, 99) == 99.0
    assert percentile([3.0, 1.0, 2.0], 99) == 3.0
    assert percentile([7.0], 50) == 7.0


def test_the_stage6_streams_bench_runs_end_to_end() -> None:
    # Tiny sizes: the script starts its worker and API, opens streams and prints its table.
    command = [sys.executable, "-m", "bench.step6_streams", "--streams", "3", "--jobs", "3"]
    command += ["--window", "0.2", "--requests", "20"]
    finished = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    [rows] = [rows for header, rows in tables(finished.stdout).items() if "p99" in header]
    assert [row[0] for row in rows] == [
        "idle: no job, no stream",
        "3 streams open, 3 jobs queued or running",
    ]
    for row in rows:
        assert DURATION.match(row[1]) and DURATION.match(row[2]), row
        assert re.match(r"^\d+ %$", row[3]), row
