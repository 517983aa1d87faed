"""The results as markdown (the stamp, one table per measurement, the targets) and an SVG chart."""

from __future__ import annotations

import math
import os
import platform
from datetime import UTC, datetime
from html import escape
from importlib import metadata

from bench.run import TASKS_PER_MEMORY_FIGURE, Results, StatusLatency, WallTime, mib, ms
from bench.stages import Stage

PACKAGES = ("fastapi", "starlette", "uvicorn", "httpx", "sqlalchemy", "celery")
TARGET_RATIO = 2.0
POST_TARGET_FROM_STAGE = 2  # stages 2 on: POST p50 within 2x of the empty endpoint
STATUS_TARGET_FROM_STAGE = 4  # stages 4 on: GET /status p99 with 100 in flight within 2x idle
TIMES = "\u00d7"  # the multiplication sign, spelled out for ruff's confusables check
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


def installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


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
CHART_LABELS = 320  # the stage names, left of the bars
CHART_BARS = 400  # the longest bar
CHART_ROW = 30
CHART_TOP = 64  # title and the reference lines' labels
WEB_PROCESS_COLOUR = "#4a7bd0"
WORKER_COLOUR = "#d0843a"
TEXT_COLOUR = "#888888"  # readable on the light and the dark theme


def wall_chart_svg(results: Results) -> str:
    """Horizontal bars: each row's wall time in units of D, with the ideal and the pool's lines."""
    walls = sorted(results.wall, key=wall_order)
    sizes = results.sizes
    units = [wall.seconds / wall.job_seconds for wall in walls]
    pool_units = math.ceil(sizes.wall_jobs / THREAD_POOL)
    scale = CHART_BARS / max([*units, pool_units, 1.0])
    height = CHART_TOP + CHART_ROW * len(walls) + 12
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH}" height="{height}" '
        f'viewBox="0 0 {CHART_WIDTH} {height}" font-family="sans-serif" font-size="13" '
        f'role="img" aria-label="{sizes.wall_jobs} jobs submitted at once: wall time">',
        f'<text x="0" y="16" fill="{TEXT_COLOUR}" font-weight="bold">{sizes.wall_jobs} jobs of '
        f"D = {sizes.wall_job_seconds:g} s submitted at once: time until the last one ends, "
        "in units of D</text>",
    ]
    references = {1: "ideal: D", pool_units: f"{THREAD_POOL} threads: {pool_units}·D"}
    # One label per line, top down, so labels of lines close together never overlap.
    for line, (value, label) in enumerate(references.items()):
        x = CHART_LABELS + value * scale
        parts.append(
            f'<line x1="{x:.1f}" y1="{CHART_TOP - 40 + 12 * line}" x2="{x:.1f}" y2="{height - 8}" '
            f'stroke="{TEXT_COLOUR}" stroke-dasharray="4 3"/>'
            f'<text x="{x + 3:.1f}" y="{CHART_TOP - 30 + 12 * line}" fill="{TEXT_COLOUR}" '
            f'font-size="11">{label}</text>'
        )
    for row, (wall, value) in enumerate(zip(walls, units, strict=True)):
        y = CHART_TOP + row * CHART_ROW
        colour = WEB_PROCESS_COLOUR if wall.worker_concurrency is None else WORKER_COLOUR
        width = max(value * scale, 1.0)
        parts.append(
            f'<text x="{CHART_LABELS - 8}" y="{y + 17}" text-anchor="end" fill="{TEXT_COLOUR}">'
            f"{escape(wall_label(wall.stage, wall.worker_concurrency))}</text>"
            f'<rect x="{CHART_LABELS}" y="{y + 4}" width="{width:.1f}" height="{CHART_ROW - 10}" '
            f'fill="{colour}"/>'
            f'<text x="{CHART_LABELS + width + 6:.1f}" y="{y + 17}" fill="{TEXT_COLOUR}">'
            f"{value:.1f}·D ({wall.seconds:.2f} s)</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


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
