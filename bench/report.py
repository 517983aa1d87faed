"""The results as markdown (the stamp, one table per measurement, the targets) and a chart."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from bench import charts
from bench.run import TASKS_PER_MEMORY_FIGURE, Results, StatusLatency, WallTime, mib, ms
from bench.stages import Stage

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
    measured = charts.stamp(
        "Measured",
        datetime.fromtimestamp(results.started, UTC),
        by=f"`make bench` (`python -m bench`) in {results.seconds:.0f} s",
    )
    return (
        f"{measured} Load average {results.load_at_start:.2f} at the start, "
        f"{results.load_at_end:.2f} at the end (other work on the machine shows here)."
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


WALL_CHART_NAME = "wall-time.svg"  # beside the markdown, with its data file (wall-time.json)
WEB_PROCESS, WORKER = 0, 1  # the chart's groups: where the jobs run


def wall_chart(results: Results) -> charts.LogBarChart:
    """The wall times in units of D on a log axis, so 2·D and 107·D are both readable; the ideal
    (D) and the thread pool's waves as reference lines."""
    sizes = results.sizes
    pool_waves = math.ceil(sizes.wall_jobs / THREAD_POOL)
    bars = []
    for wall in sorted(results.wall, key=wall_order):
        units = wall.seconds / wall.job_seconds
        bars.append(
            charts.Bar(
                label=wall_label(wall.stage, wall.worker_concurrency),
                value=units,
                group=WEB_PROCESS if wall.worker_concurrency is None else WORKER,
                note=f"{units:.1f}·D ({wall.seconds:.2f} s)",
            )
        )
    return charts.LogBarChart(
        title=f"{sizes.wall_jobs} jobs of D = {sizes.wall_job_seconds:g} s submitted at once: "
        "time until the last one ends",
        x_label="wall time, in units of D (log scale)",
        unit="·D",
        groups=["jobs run in the web process", "jobs run in a Celery worker"],
        bars=bars,
        references=[
            charts.Reference(value=1, label="ideal: D"),
            charts.Reference(value=pool_waves, label=f"{THREAD_POOL} threads: {pool_waves}·D"),
        ],
        stamp=chart_stamp(stamp(results)),
    )


def chart_stamp(results_stamp: str) -> str:
    """The results' stamp as a chart shows it: plain text, without the load average."""
    return results_stamp.split(" Load average")[0].replace("`", "")


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
