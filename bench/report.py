"""The results as markdown (the stamp, one table per measurement, the targets) and an SVG chart."""

from __future__ import annotations

import json
import math
import os
import platform
import textwrap
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from bench.charts import installed
from bench.run import TASKS_PER_MEMORY_FIGURE, Results, StatusLatency, WallTime, mib, ms
from bench.stages import Stage

PACKAGES = ("fastapi", "starlette", "uvicorn", "httpx", "sqlalchemy", "celery")
TARGET_RATIO = 2.0
POST_TARGET_FROM_STAGE = 2  # stages 2 on: POST p50 within 2x of the empty endpoint
STATUS_TARGET_FROM_STAGE = 4  # stages 4 on: GET /status p99 with 100 in flight within 2x idle
TIMES = "\u00d7"  # the multiplication sign, spelled out for ruff's confusables check
WALL_DATA_NAME = "wall-time.json"  # what the wall-time chart is drawn from, next to it
THREAD_POOL = 40  # anyio's default limiter: sync endpoints and sync jobs share it


def render(results: Results) -> str:
    sections = [
        stamp(results),
        post_table(results),
        status_table(results),
        wall_table(results),
        memory_table(results),
        targets_table(results),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def stamp(results: Results) -> str:
    when = datetime.fromtimestamp(results.started, UTC).strftime("%Y-%m-%d %H:%M UTC")
    versions = ", ".join(
        f"{name} {version}" for name in PACKAGES if (version := installed(name)) is not None
    )
    return (
        f"Measured {when} by `make bench` (`python -m bench`) in {results.seconds:.0f} s on "
        f"{os.cpu_count()} CPUs ({platform.system()} {platform.machine()}), Python "
        f"{platform.python_version()}; {versions}. Load average {results.load_at_start:.2f} at "
        f"the start, {results.load_at_end:.2f} at the end (other work on the machine shows here)."
    )


def post_table(results: Results) -> str:
    sizes = results.sizes
    rows = [
        f"**`POST /long_task` next to an empty `POST` on the same server** — "
        f"{sizes.latency_requests} requests from 1 client, then from {sizes.latency_clients}; "
        f"jobs of {sizes.latency_job_seconds:g} s. Latency p50 / p99.",
        "",
        "| stage | 1 client: job | empty | p50 ratio "
        f"| {sizes.latency_clients} clients: job | empty | p50 ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for stage in results.stages:
        cells = []
        for latency in (row for row in results.post if row.stage == stage):
            cells += [
                pair(latency.task.p50, latency.task.p99),
                pair(latency.empty.p50, latency.empty.p99),
                f"{latency.p50_ratio:.1f}{TIMES}",
            ]
        rows.append(f"| {stage.title} | {' | '.join(cells)} |")
    return "\n".join(rows)


def status_table(results: Results) -> str:
    if not results.status:
        return ""
    sizes = results.sizes
    levels = sizes.status_levels
    rows = [
        f"**`GET /status` while jobs are in flight** — {sizes.status_requests} requests from "
        f"{sizes.status_clients} clients polling, sent right after the jobs "
        f"({sizes.status_job_seconds:g} s each) were submitted. Latency p50 / p99.",
        "",
        "| stage | " + " | ".join(f"{level} in flight" for level in levels) + " | p99 vs idle |",
        "|---|" + "---:|" * (len(levels) + 1),
    ]
    for stage in results.stages:
        measured = [row for row in results.status if row.stage == stage]
        if not measured:
            continue
        cells = [status_cell(row, level) for row, level in zip(measured, levels, strict=True)]
        rows.append(
            f"| {stage.title} | {' | '.join(cells)} | {status_ratio(results, stage):.1f}{TIMES} |"
        )
    return "\n".join(rows)


def status_cell(row: StatusLatency, level: int) -> str:
    cell = pair(row.latency.p50, row.latency.p99)
    # Jobs that ended before the polling began are not in flight: say so rather than hide it.
    return cell if row.jobs_in_flight == level else f"{cell} ({row.jobs_in_flight} in flight)"


def status_ratio(results: Results, stage: Stage) -> float:
    """p99 with the most jobs in flight over p99 idle."""
    measured = [row for row in results.status if row.stage == stage]
    return measured[-1].latency.p99 / measured[0].latency.p99


def wall_table(results: Results) -> str:
    sizes = results.sizes
    pool_waves = math.ceil(sizes.wall_jobs / THREAD_POOL)
    rows = [
        f"**{sizes.wall_jobs} jobs of D = {sizes.wall_job_seconds:g} s, submitted at once, "
        f"until the last one ends.** The ideal is D; a {THREAD_POOL}-thread pool takes "
        f"⌈{sizes.wall_jobs}/{THREAD_POOL}⌉·D = {pool_waves}·D; a queue takes "
        f"⌈{sizes.wall_jobs}/concurrency⌉·D.",
        "",
        "| stage | runs jobs in | wall time | in units of D |",
        "|---|---|---:|---:|",
    ]
    for wall in sorted(results.wall, key=wall_order):
        rows.append(
            f"| {wall.stage.title} | {runs_jobs_in(wall.worker_concurrency)} "
            f"| {wall.seconds:.2f} s | {wall.seconds / wall.job_seconds:.1f} |"
        )
    return "\n".join(rows)


def wall_order(wall: WallTime) -> tuple[str, int]:
    return wall.stage.number, wall.worker_concurrency or 0


def runs_jobs_in(worker_concurrency: int | None) -> str:
    if worker_concurrency is None:
        return "the web process"
    return f"a worker, concurrency {worker_concurrency}"


def wall_label(stage: Stage, worker_concurrency: int | None) -> str:
    if worker_concurrency is None:
        return stage.title
    processes = "process" if worker_concurrency == 1 else "processes"
    return f"{stage.title}, {worker_concurrency} worker {processes}"


CHART_WIDTH = 860
CHART_LABELS = 290  # the stage names, left of the bars
CHART_RIGHT = 130  # room for the last bar's label
CHART_ROW = 30
CHART_TOP = 64  # title and the reference lines' labels
CHART_AXIS = 72  # tick labels, the axis name and the stamp (two lines)
WEB_PROCESS_COLOUR = "#4a7bd0"
WORKER_COLOUR = "#d0843a"
TEXT_COLOUR = "#888888"  # readable on the light and the dark theme
LOG_TICKS = (1, 2, 5)  # per decade


def wall_chart_data(results: Results) -> dict[str, Any]:
    """What the wall-time chart draws, kept as docs/bench/wall-time.json next to it."""
    sizes = results.sizes
    return {
        "stamp": stamp(results),
        "jobs": sizes.wall_jobs,
        "job_seconds": sizes.wall_job_seconds,
        "thread_pool": THREAD_POOL,
        "rows": [
            {
                "label": wall_label(wall.stage, wall.worker_concurrency),
                "in_worker": wall.worker_concurrency is not None,
                "seconds": wall.seconds,
            }
            for wall in sorted(results.wall, key=wall_order)
        ],
    }


def wall_chart_svg(results: Results) -> str:
    return draw_wall_chart(wall_chart_data(results))


def _log_ticks(low: float, high: float) -> list[float]:
    """1, 2, 5 times each power of ten from below `low` to above `high`."""
    ticks: list[float] = []
    for power in range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1):
        ticks += [tick * 10.0**power for tick in LOG_TICKS]
    first = max(tick for tick in ticks if tick <= low)
    last = min(tick for tick in ticks if tick >= high)
    return [tick for tick in ticks if first <= tick <= last]


def draw_wall_chart(data: dict[str, Any]) -> str:
    """Horizontal bars on a log axis in units of D, so 2·D and 107·D are both readable; the
    ideal (D) and the thread pool's waves as reference lines. Every bar carries its value in
    data attributes and the svg its scale (data-log-origin, data-pixels-per-decade)."""
    rows, jobs, job_seconds = data["rows"], data["jobs"], data["job_seconds"]
    units = [row["seconds"] / job_seconds for row in rows]
    pool_units = math.ceil(jobs / data["thread_pool"])
    ticks = _log_ticks(min([*units, 1.0]) / 1.5, max([*units, pool_units]))
    low, high = ticks[0], ticks[-1]
    plot = CHART_WIDTH - CHART_LABELS - CHART_RIGHT
    per_decade = plot / math.log10(high / low)

    def x(value: float) -> float:
        return CHART_LABELS + math.log10(value / low) * per_decade

    bottom = CHART_TOP + CHART_ROW * len(rows)
    height = bottom + CHART_AXIS
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH}" height="{height}" '
        f'viewBox="0 0 {CHART_WIDTH} {height}" font-family="sans-serif" font-size="13" '
        f'data-log-origin="{low:g}" data-x0="{CHART_LABELS}" '
        f'data-pixels-per-decade="{per_decade:.6f}" '
        f'role="img" aria-label="{jobs} jobs submitted at once: wall time">',
        f'<text x="0" y="16" fill="{TEXT_COLOUR}" font-weight="bold">{jobs} jobs of '
        f"D = {job_seconds:g} s submitted at once: time until the last one ends "
        "(log scale, in units of D)</text>",
    ]
    for tick in ticks:
        parts.append(
            f'<line x1="{x(tick):.1f}" y1="{CHART_TOP}" x2="{x(tick):.1f}" y2="{bottom}" '
            f'stroke="{TEXT_COLOUR}" stroke-opacity="0.3"/>'
            f'<text x="{x(tick):.1f}" y="{bottom + 16}" fill="{TEXT_COLOUR}" font-size="12" '
            f'text-anchor="middle">{tick:g}·D</text>'
        )
    parts.append(
        f'<text x="{CHART_LABELS + plot / 2:.1f}" y="{bottom + 32}" fill="{TEXT_COLOUR}" '
        f'font-size="12" text-anchor="middle">wall time, in units of D (log scale)</text>'
    )
    references = {1: "ideal: D", pool_units: f"{data['thread_pool']} threads: {pool_units}·D"}
    # One label per line, top down, so labels of lines close together never overlap.
    for line, (value, label) in enumerate(references.items()):
        parts.append(
            f'<line x1="{x(value):.1f}" y1="{CHART_TOP - 40 + 14 * line}" x2="{x(value):.1f}" '
            f'y2="{bottom}" stroke="{TEXT_COLOUR}" stroke-dasharray="4 3"/>'
            f'<text x="{x(value) + 3:.1f}" y="{CHART_TOP - 30 + 14 * line}" '
            f'fill="{TEXT_COLOUR}" font-size="12">{label}</text>'
        )
    for number, (row, value) in enumerate(zip(rows, units, strict=True)):
        y = CHART_TOP + number * CHART_ROW
        colour = WORKER_COLOUR if row["in_worker"] else WEB_PROCESS_COLOUR
        width = x(value) - CHART_LABELS
        parts.append(
            f'<text x="{CHART_LABELS - 8}" y="{y + 19}" text-anchor="end" fill="{TEXT_COLOUR}">'
            f"{escape(row['label'])}</text>"
            f'<rect data-label="{escape(row["label"])}" data-seconds="{row["seconds"]}" '
            f'x="{CHART_LABELS}" y="{y + 6}" width="{width:.2f}" height="{CHART_ROW - 10}" '
            f'fill="{colour}"/>'
            f'<text x="{CHART_LABELS + width + 6:.1f}" y="{y + 19}" fill="{TEXT_COLOUR}">'
            f"{value:.1f}·D ({row['seconds']:.2f} s)</text>"
        )
    stamp_text = data["stamp"].split(" Load average")[0].replace("`", "")
    for number, line in enumerate(textwrap.wrap(stamp_text, CHART_WIDTH // 6)):
        parts.append(
            f'<text x="0" y="{bottom + 50 + 14 * number}" fill="{TEXT_COLOUR}" font-size="11">'
            f"{escape(line)}</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def read_wall_chart(svg_text: str) -> dict[str, float]:
    """label -> wall time in units of D, read back from each bar's drawn width."""
    root = ElementTree.fromstring(svg_text)
    low = float(root.attrib["data-log-origin"])
    per_decade = float(root.attrib["data-pixels-per-decade"])
    return {
        rect.attrib["data-label"]: low * 10 ** (float(rect.attrib["width"]) / per_decade)
        for rect in root.iter("{http://www.w3.org/2000/svg}rect")
        if "data-label" in rect.attrib
    }


def redraw_wall_chart(folder: Path) -> Path:
    """wall-time.svg again from wall-time.json (no new measurement)."""
    data = json.loads((folder / WALL_DATA_NAME).read_text(encoding="utf-8"))
    chart = folder / "wall-time.svg"
    chart.write_text(draw_wall_chart(data), encoding="utf-8")
    return chart


def memory_table(results: Results) -> str:
    if not results.memory:
        return ""
    tasks = results.memory[0].tasks
    half = tasks // 2
    rows = [
        f"**Server memory per {TASKS_PER_MEMORY_FIGURE:,} finished tasks** — RSS of every process "
        f"of the stage (server, workers), before, halfway through and after {tasks:,} more jobs of "
        f"{results.sizes.memory_job_seconds:g} s, on a server warmed up by "
        f"{results.sizes.memory_warmup_tasks:,} jobs first.",
        "",
        f"| stage | RSS before | after {half:,} | after {tasks:,} "
        f"| growth per {TASKS_PER_MEMORY_FIGURE:,} tasks |",
        "|---|---:|---:|---:|---:|",
    ]
    for growth in results.memory:
        sizes = " | ".join(mib(size) for size in growth.rss)
        rows.append(f"| {growth.stage.title} | {sizes} | {mib(growth.per_memory_figure)} |")
    return "\n".join(rows)


def targets_table(results: Results) -> str:
    rows = [
        "**Targets** (measured, never asserted):",
        "",
        "| target | stage | measured | met |",
        "|---|---|---:|:---:|",
    ]
    for row in results.post:
        if int(row.stage.number) >= POST_TARGET_FROM_STAGE:
            rows.append(
                target_row(
                    f"`POST` p50 within {TARGET_RATIO:g}{TIMES} of empty, {row.clients} client(s)",
                    row.stage,
                    row.p50_ratio,
                )
            )
    for stage in results.stages:
        has_status = any(row.stage == stage for row in results.status)
        if has_status and int(stage.number) >= STATUS_TARGET_FROM_STAGE:
            rows.append(
                target_row(
                    f"`GET /status` p99 with {results.sizes.status_levels[-1]} in flight "
                    f"within {TARGET_RATIO:g}{TIMES} of idle",
                    stage,
                    status_ratio(results, stage),
                )
            )
    return "\n".join(rows)


def target_row(target: str, stage: Stage, ratio: float) -> str:
    met = "yes" if ratio <= TARGET_RATIO else "**no**"
    return f"| {target} | {stage.title} | {ratio:.1f}{TIMES} | {met} |"


def pair(p50: float, p99: float) -> str:
    return f"{ms(p50)} / {ms(p99)}"


if __name__ == "__main__":
    # python -m bench.report: draw docs/bench/wall-time.svg again from wall-time.json.
    print(f"drew {redraw_wall_chart(Path(__file__).resolve().parents[1] / 'docs' / 'bench')}")
