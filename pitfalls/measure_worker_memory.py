"""Pitfall 15: a worker that grows. Measure a leaking job's worker, with and without a limit.

python -m pitfalls.measure_worker_memory [--jobs 500] [--leak-kib 256] [--write]

Runs `pitfalls.leaky_worker` under a real Celery worker with one pool process, on the embedded
folder queue, three times: with no limit, with `--max-tasks-per-child`, and with
`--max-memory-per-child`; each time it sends `--jobs` jobs at once. Each job reports its pool
process's RSS and the parent's; each replacement of the pool process, what it cost. `--write`
stores the tables the Pitfalls page includes (docs/pitfalls/worker-memory.md) and draws the
chart (worker-memory.svg, with its data file: bench/charts.py).
"""

from __future__ import annotations

import argparse
import itertools
import re
import signal
import statistics
import sys
import tempfile
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import charts
from pitfalls.folder_queue import folder_app
from pitfalls.leaky_worker import EXITING, FORKED, JOB_DONE, READY
from uvicorn_harness.server import REPO_ROOT, running_server, wait_until

TABLE_FILE = REPO_ROOT / "docs" / "pitfalls" / "worker-memory.md"
CHART_FILE = TABLE_FILE.with_suffix(".svg")
# The chart's line in the table file: a link relative to docs/pitfalls.md, which includes it.
CHART_LINE = (
    "![A leaking job's Celery worker: pool process and parent memory against jobs done]"
    "(pitfalls/worker-memory.svg){ .chart }"
)
TASK = "pitfalls.leaky_worker.render_report"
SAMPLE_EVERY = 20  # jobs between the chart's points (and each job next to a replacement)
MIB = 1024 * 1024


@dataclass(frozen=True)
class Setting:
    label: str  # as the chart's legend and the table say it
    worker_args: tuple[str, ...]  # what `celery worker` is given for it


def settings(max_tasks: int, max_memory_kib: int) -> list[Setting]:
    return [
        Setting("no limit", ()),
        Setting(f"max {max_tasks} tasks", ("--max-tasks-per-child", str(max_tasks))),
        Setting(
            f"max {max_memory_kib / 1024:g} MiB", ("--max-memory-per-child", str(max_memory_kib))
        ),
    ]


@dataclass(frozen=True)
class Job:
    pid: int
    started: float  # time.monotonic() in the pool process (one clock for the whole machine)
    ended: float
    rss: int  # the pool process's, in bytes, once the job has leaked
    parent_rss: int  # the worker's parent process's, in bytes
    peak_rss_kib: int  # what --max-memory-per-child compares with its limit


@dataclass(frozen=True)
class Replacement:
    """One pool process replaced by the next: the moments it went through, and memory."""

    last_job_ended: float  # in the old process
    old_exited: float  # the old process's worker_process_shutdown
    began: float  # the parent's worker_before_create_process
    fork: float  # the parent's fork() begins...
    forked: float  # ...and returns in the parent
    child_forked: float  # the new process's first moment
    ready: float  # the new process's worker_process_init
    first_job_started: float  # in the new process
    new_rss: int  # the new process's RSS when ready, bytes
    new_uss: int  # of which only its own (the rest is shared with the parent)

    @property
    def pause(self) -> float:
        """What the next job waited for, beyond the usual: from the last job to the next."""
        return self.first_job_started - self.last_job_ended

    @property
    def noticed_after(self) -> float:
        """From the old process's exit to the parent beginning its replacement."""
        return self.began - self.old_exited

    @property
    def in_parent(self) -> float:
        """The parent's own work: Celery's gc.collect(), then the fork."""
        return self.forked - self.began

    @property
    def fork_seconds(self) -> float:
        return self.forked - self.fork

    @property
    def starting(self) -> float:
        """The new process, from its fork to ready."""
        return self.ready - self.child_forked


@dataclass(frozen=True)
class WorkerRun:
    setting: Setting
    jobs: list[Job]  # in the order they started
    replacements: list[Replacement]

    @property
    def pool_processes(self) -> int:
        return len({job.pid for job in self.jobs})


def fields_of(line: str) -> dict[str, float]:
    return {key: float(value) for key, value in re.findall(r"(\w+)=([\d.]+)", line)}


def parse_console(setting: Setting, lines: Sequence[str]) -> WorkerRun:
    """The jobs and replacements of one worker's console (one pool process at a time)."""
    jobs: list[Job] = []
    forks: list[dict[str, float]] = []
    ready: dict[int, dict[str, float]] = {}
    exited: dict[int, float] = {}
    for line in lines:
        values = fields_of(line)
        if line.startswith(JOB_DONE):
            jobs.append(
                Job(
                    int(values["pid"]),
                    values["started"],
                    values["ended"],
                    int(values["rss"]),
                    int(values["parent_rss"]),
                    int(values["peak_rss_kib"]),
                )
            )
        elif line.startswith(FORKED):
            forks.append(values)
        elif line.startswith(READY):
            ready[int(values["pid"])] = values
        elif line.startswith(EXITING):
            exited[int(values["pid"])] = values["at"]
    jobs.sort(key=lambda job: job.started)
    replacements = []
    changes = [(old, new) for old, new in itertools.pairwise(jobs) if old.pid != new.pid]
    # The first fork made the first pool process; each one after it, a replacement (the last
    # may come after the last job, and replace nothing this run measures).
    if len(forks) - 1 < len(changes):
        raise ValueError(f"{len(changes)} pool processes replaced, but {len(forks)} forks")
    for (old, new), parent in zip(changes, forks[1:], strict=False):
        child = ready[new.pid]
        replacements.append(
            Replacement(
                old.ended,
                exited[old.pid],
                parent["began"],
                parent["fork"],
                parent["forked"],
                child["forked"],
                child["ready"],
                new.started,
                int(child["rss"]),
                int(child["uss"]),
            )
        )
    return WorkerRun(setting, jobs, replacements)


def worker_command(setting: Setting, node: str) -> list[str]:
    return [
        *(sys.executable, "-m", "celery", "-A", "pitfalls.leaky_worker", "worker"),
        *("--loglevel=INFO", "--concurrency=1", f"--hostname={node}"),
        *("--without-mingle", "--without-gossip", *setting.worker_args),
    ]


def send_jobs(queue_folder: Path, count: int) -> None:
    with folder_app("pitfalls.leaky_worker", queue_folder) as producer:
        for number in range(count):
            producer.send_task(TASK, args=[number])


def run_worker(setting: Setting, jobs: int, leak_kib: int) -> WorkerRun:
    """Start a worker with `setting`, send it `jobs` jobs at once, read what it printed."""
    node = f"pitfall15-{uuid.uuid4().hex[:8]}@localhost"
    with (
        tempfile.TemporaryDirectory(prefix="pitfall15-") as folder,
        running_server(
            command=worker_command(setting, node),
            env={"QUEUE_FOLDER": folder, "LEAK_KIB": str(leak_kib)},
            ready_line=f"{node} ready.",
            serves_http=False,
            stop_signal=signal.SIGKILL,  # its warm shutdown takes seconds nothing here measures
        ) as worker,
    ):
        send_jobs(Path(folder), jobs)
        # Each replacement can wait for the pool's 5-second check (see the docs page).
        wait_until(
            lambda: sum(line.startswith(JOB_DONE) for line in worker.console_lines()) >= jobs,
            timeout=30 + jobs * 0.1,
            message=f"{jobs} jobs done by the worker with {setting.label}",
        )
        lines = worker.console_lines()
    return parse_console(setting, lines)


# --- the tables and the chart ------------------------------------------------------------------


def mib(size: float) -> float:
    """Bytes in MiB to 0.1, as both the tables and the chart show them."""
    return round(size / MIB, 1)


def seconds_shown(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def spread(values: list[float], shown: Callable[[float], str] = seconds_shown) -> str:
    """The median, then the lowest and highest: "12 ms (8 ms to 40 ms)"."""
    return f"{shown(statistics.median(values))} ({shown(min(values))} to {shown(max(values))})"


def setting_shown(setting: Setting) -> str:
    return f"`{' '.join(setting.worker_args)}`" if setting.worker_args else setting.label


MEMORY_HEADER = (
    "| pool processes | pool RSS after the last job | highest pool RSS "
    "| parent RSS, first job → last |"
)


def as_markdown(runs: list[WorkerRun], leak_kib: int, stamp_text: str) -> str:
    """The two tables the Pitfalls page includes: memory per setting, a replacement's costs."""
    rows = [
        # Sections of their own: the page shows the chart, and repeats the table at its end.
        "<!-- --8<-- [start:chart] -->",
        CHART_LINE,
        "<!-- --8<-- [end:chart] -->",
        "",
        "<!-- --8<-- [start:memory] -->",
        f"| `celery worker --concurrency 1`, {len(runs[0].jobs)} jobs keeping {leak_kib} KiB "
        f"each {MEMORY_HEADER}",
        "|---|---:|---:|---:|---:|",
    ]
    for run in runs:
        pool = [mib(job.rss) for job in run.jobs]
        rows.append(
            f"| {setting_shown(run.setting)} | {run.pool_processes} | {pool[-1]:.1f} MiB "
            f"| {max(pool):.1f} MiB | {mib(run.jobs[0].parent_rss):.1f} → "
            f"{mib(run.jobs[-1].parent_rss):.1f} MiB |"
        )
    rows.append("<!-- --8<-- [end:memory] -->")
    done = [replacement for run in runs for replacement in run.replacements]
    if done:
        rows += [
            "",
            "<!-- --8<-- [start:replacement] -->",
            f"| what a replacement cost (median, lowest to highest, of {len(done)}) | time |",
            "|---|---:|",
            "| the next job waited: from the last job's end to the next job's start "
            f"| {spread([r.pause for r in done])} |",
            "| of which: from the old process's exit until the parent began to replace it "
            f"| {spread([r.noticed_after for r in done])} |",
            "| the parent's own work: Celery's `gc.collect()`, then the fork "
            f"| {spread([r.in_parent for r in done])} |",
            f"| of which the fork itself | {spread([r.fork_seconds for r in done])} |",
            "| the new process, from its fork until ready "
            f"| {spread([r.starting for r in done])} |",
            "| the new process's memory when ready: RSS (of which its own, USS) "
            f"| {mib(statistics.median(r.new_rss for r in done)):.1f} MiB "
            f"({mib(statistics.median(r.new_uss for r in done)):.1f} MiB) |",
            "",
            stamp_text,
            "<!-- --8<-- [end:replacement] -->",
        ]
    return "\n".join(rows) + "\n"


def read_memory_table(markdown: str) -> dict[str, list[str]]:
    """The memory table back from a stored file: setting -> its cells, as shown."""
    table = markdown.split(MEMORY_HEADER, 1)[1].split("<!--", 1)[0].strip().splitlines()[1:]
    cells = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in table]
    return {row[0]: row[1:] for row in cells}


def chart_numbers(runs: list[WorkerRun]) -> list[int]:
    """The job numbers (1 on) the chart shows: every SAMPLE_EVERY-th, the first and the last,
    and the two jobs on either side of each replacement (so each drop is drawn where it is)."""
    count = len(runs[0].jobs)
    keep = {1, count, *range(SAMPLE_EVERY, count + 1, SAMPLE_EVERY)}
    for run in runs:
        for number, (old, new) in enumerate(itertools.pairwise(run.jobs), start=1):
            if old.pid != new.pid:
                keep |= {number, number + 1}
    return sorted(keep)


def chart(runs: list[WorkerRun], leak_kib: int, stamp_text: str) -> charts.LineChart:
    """Pool process and parent RSS against jobs done, one line per setting: a line that keeps
    climbing is memory never freed; a saw is a pool process replaced."""
    numbers = chart_numbers(runs)

    def series(run: WorkerRun, size: Callable[[Job], int]) -> charts.Series:
        points = [(float(n), mib(size(run.jobs[n - 1]))) for n in numbers]
        return charts.Series(name=run.setting.label, points=points)

    panels = [
        charts.Panel(title=title, y_label="MiB", series=[series(run, size) for run in runs])
        for title, size in [
            ("Pool process RSS", lambda job: job.rss),
            ("Worker parent RSS", lambda job: job.parent_rss),
        ]
    ]
    return charts.LineChart(
        panels=panels,
        x_label=f"jobs done (each keeps {leak_kib} KiB)",
        stamp=stamp_text,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=500, help="jobs per setting")
    parser.add_argument("--leak-kib", type=int, default=256, help="KiB each job keeps")
    parser.add_argument("--max-tasks", type=int, default=100, help="--max-tasks-per-child")
    parser.add_argument(
        "--max-memory-kib", type=int, default=100 * 1024, help="--max-memory-per-child"
    )
    parser.add_argument("--write", action="store_true", help=f"write {TABLE_FILE.name} and more")
    args = parser.parse_args()
    runs = []
    for setting in settings(args.max_tasks, args.max_memory_kib):
        run = run_worker(setting, args.jobs, args.leak_kib)
        print(
            f"{setting_shown(setting)}: {run.pool_processes} pool processes, pool RSS "
            f"{mib(run.jobs[0].rss)} -> {mib(run.jobs[-1].rss)} MiB, "
            f"{len(run.replacements)} replacements",
            flush=True,
        )
        runs.append(run)
    measured = charts.stamp("Measured by python -m pitfalls.measure_worker_memory --write,")
    tables = as_markdown(runs, args.leak_kib, measured)
    print(tables)
    if args.write:
        TABLE_FILE.parent.mkdir(parents=True, exist_ok=True)
        TABLE_FILE.write_text(tables, encoding="utf-8")
        charts.write(chart(runs, args.leak_kib, measured), CHART_FILE)
        print(f"written to {TABLE_FILE.relative_to(REPO_ROOT)} and {CHART_FILE.name}")


if __name__ == "__main__":
    main()
