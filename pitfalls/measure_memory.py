"""Pitfall 8: stage 3's dict keeps every task forever. Measure the memory that costs.

python -m pitfalls.measure_memory [--tasks 10000] [--rounds 3] [--write]

Serves stage 3 under uvicorn with a zero-length job, finishes `--tasks` tasks per round, and
reads the server process's resident memory (RSS) after each round. `--write` stores the table
in docs/pitfalls/memory.md, which the Pitfalls page includes, and draws it as a chart
(docs/pitfalls/memory.svg, shown by the table's first line, with its data file: bench/charts.py).
"""

from __future__ import annotations

import argparse
import platform
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise

import httpx
import psutil

from bench import charts
from uvicorn_harness.server import REPO_ROOT, running_server

FIGURE_FILE = REPO_ROOT / "docs" / "pitfalls" / "memory.md"
CHART_FILE = FIGURE_FILE.with_suffix(".svg")
# The chart's line in the table file: a link relative to docs/pitfalls.md, which includes it.
CHART_LINE = (
    "![Stage 3's server memory against finished tasks](pitfalls/memory.svg){ .chart .narrow }"
)
CLIENTS = 4  # concurrent keep-alive clients: enough to keep both cores busy
WARMUP_TASKS = 1000  # the first requests fill caches and the thread pool; not the dict's cost
MIB = 1024 * 1024


@dataclass(frozen=True)
class MemoryFigures:
    warmup_tasks: int
    tasks_per_round: int
    rss_bytes: list[int]  # after warm-up, then after each round

    @property
    def growth_per_round(self) -> list[int]:
        return [after - before for before, after in pairwise(self.rss_bytes)]

    @property
    def bytes_per_task(self) -> float:
        total = self.rss_bytes[-1] - self.rss_bytes[0]
        return total / (self.tasks_per_round * (len(self.rss_bytes) - 1))


def finish_tasks(url: str, count: int) -> list[str]:
    """POST `count` tasks, spread over a few keep-alive clients; the ids, in no special order."""

    def post_many(share: int) -> list[str]:
        with httpx.Client(base_url=url, timeout=30) as client:
            return [client.post("/long_task").raise_for_status().json() for _ in range(share)]

    shares = [count // CLIENTS + (1 if n < count % CLIENTS else 0) for n in range(CLIENTS)]
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        return [task_id for ids in pool.map(post_many, shares) for task_id in ids]


def measure(tasks_per_round: int, rounds: int, warmup: int = WARMUP_TASKS) -> MemoryFigures:
    with running_server("step3_status.app:app", env={"TASK_SECONDS": "0"}) as server:
        process = psutil.Process(server.pid)
        first_ids = finish_tasks(server.url, warmup)
        rss = [process.memory_info().rss]
        for _ in range(rounds):
            finish_tasks(server.url, tasks_per_round)
            rss.append(process.memory_info().rss)
        # Nothing is ever removed: the very first id still answers, after all the others.
        first = httpx.get(f"{server.url}/status", params={"task_id": first_ids[0]})
        if first.json() != "completed":
            raise RuntimeError(f"the first task should still be kept as completed: {first.text}")
    return MemoryFigures(warmup, tasks_per_round, rss)


def as_markdown(figures: MemoryFigures) -> str:
    """The table the Pitfalls page includes."""
    rows = [
        CHART_LINE,
        "",
        "| tasks finished | server RSS | growth in this round |",
        "|---:|---:|---:|",
        f"| {figures.warmup_tasks:,} (warm-up) | {figures.rss_bytes[0] / MIB:.1f} MiB | |",
    ]
    for number, (rss, growth) in enumerate(
        zip(figures.rss_bytes[1:], figures.growth_per_round, strict=True), start=1
    ):
        finished = figures.warmup_tasks + number * figures.tasks_per_round
        rows.append(f"| {finished:,} | {rss / MIB:.1f} MiB | +{growth / MIB:.1f} MiB |")
    per_10k = figures.bytes_per_task * 10_000 / MIB
    rows += [
        "",
        # A named section, so the page's closing summary can include this line on its own.
        "<!-- --8<-- [start:per_10k] -->",
        f"**{per_10k:.1f} MiB per 10,000 finished tasks** "
        f"({figures.bytes_per_task:.0f} bytes each), measured by `python -m pitfalls.measure_memory"
        f" --write` on Python {platform.python_version()} ({sys.platform}).",
        "<!-- --8<-- [end:per_10k] -->",
    ]
    return "\n".join(rows) + "\n"


def finished_and_rss(figures: MemoryFigures) -> list[tuple[float, float]]:
    """(tasks finished, RSS in MiB to the table's 0.1) after the warm-up and each round."""
    return [
        (figures.warmup_tasks + number * figures.tasks_per_round, round(rss / MIB, 1))
        for number, rss in enumerate(figures.rss_bytes)
    ]


def read_table(markdown: str) -> list[tuple[float, float]]:
    """(tasks finished, RSS in MiB) back from a stored table."""
    points: list[tuple[float, float]] = []
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[1].endswith(" MiB"):
            finished = int(cells[0].split()[0].replace(",", ""))
            points.append((finished, float(cells[1].removesuffix(" MiB"))))
    return points


def chart(points: list[tuple[float, float]], stamp_text: str) -> charts.LineChart:
    """The server's RSS after each round: a line that keeps climbing is memory never freed."""
    panel = charts.Panel(
        title="Stage 3: server memory (RSS) as tasks finish",
        y_label="MiB",
        series=[charts.Series(name="server RSS", points=points)],
    )
    return charts.LineChart(
        panels=[panel],
        x_label="tasks finished (none ever removed)",
        x_ticks="thousands",
        stamp=stamp_text,
        narrow=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=10_000, help="tasks finished per round")
    parser.add_argument("--rounds", type=int, default=3, help="how many rounds to measure")
    parser.add_argument("--write", action="store_true", help=f"write {FIGURE_FILE.name} too")
    args = parser.parse_args()
    figures = measure(args.tasks, args.rounds)
    table = as_markdown(figures)
    print(table)
    if args.write:
        FIGURE_FILE.parent.mkdir(parents=True, exist_ok=True)
        FIGURE_FILE.write_text(table, encoding="utf-8")
        measured = charts.stamp("Measured by python -m pitfalls.measure_memory --write,")
        charts.write(chart(finished_and_rss(figures), measured), CHART_FILE)
        print(f"written to {FIGURE_FILE.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
