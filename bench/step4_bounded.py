"""Stage 4 stays bounded: many finished tasks through a real server, with a short retention.

python -m bench.step4_bounded [--tasks 100000] [--every 10000] [--retention 5] [--write]

One uvicorn worker on a fresh SQLite file runs `TASK_SECONDS=0` jobs as fast as POSTs arrive
(batches of simultaneous requests). After every `--every` tasks it records the rows in the
table, the size of the database files (main file + WAL) and the server's resident memory.
With `--write` it stores the table the stage-4 page shows (docs/step4/bounded.md) and draws it
as a chart (docs/step4/bounded.svg, with its data file: bench/charts.py).
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
from sqlalchemy import create_engine, text

from bench import charts
from uvicorn_harness.many_requests import post_at_once
from uvicorn_harness.server import REPO_ROOT, running_server

PAGE_TABLE = REPO_ROOT / "docs" / "step4" / "bounded.md"
PAGE_CHART = PAGE_TABLE.with_suffix(".svg")
MIB = 2**20
BATCH = 250  # requests sent at the same moment; more only queue in the kernel


@dataclass(frozen=True)
class Sample:
    tasks: int  # POSTs answered so far (their jobs end at once: TASK_SECONDS=0)
    rows: int  # rows in the task table when sampled
    database_bytes: int  # tasks.db: the rows and their indexes
    wal_bytes: int  # tasks.db-wal: recent writes, copied into tasks.db at each checkpoint
    rss_bytes: int  # the server process's resident memory
    # The database as of its last commit, wherever its pages sit (tasks.db or the WAL): what
    # retention bounds. tasks.db's size alone depends on when SQLite last checkpointed the WAL.
    # Not in the stored table (None when read back from it).
    used_bytes: int | None = None


def measure(
    tasks: int, every: int, retention: float, heartbeat: float, directory: Path
) -> Iterator[Sample]:
    database = directory / "tasks.db"
    env = {
        "DATABASE_URL": f"sqlite:///{database}",
        "TASK_SECONDS": "0",
        "TASK_RETENTION_SECONDS": str(retention),
        "HEARTBEAT_SECONDS": str(heartbeat),
    }
    # --no-access-log: half a million console lines would only measure the pipe.
    with running_server("step4_database.app:app", args=["--no-access-log"], env=env) as server:
        engine = create_engine(f"sqlite:///{database}")
        process = psutil.Process(server.pid)
        sent = 0
        try:
            while sent < tasks:
                count = min(BATCH, every - sent % every)
                answers = post_at_once(server.port, "/long_task", count)
                assert all(code == 200 for code, _ in answers), "a POST failed"
                sent += count
                if sent % every == 0:
                    with engine.connect() as db:
                        rows = db.execute(text("SELECT count(*) FROM tasks")).scalar_one()
                        pages = db.execute(text("PRAGMA page_count")).scalar_one()
                        page_size = db.execute(text("PRAGMA page_size")).scalar_one()
                    wal = database.with_name(database.name + "-wal")
                    yield Sample(
                        tasks=sent,
                        rows=rows,
                        used_bytes=pages * page_size,
                        database_bytes=database.stat().st_size,
                        wal_bytes=wal.stat().st_size if wal.exists() else 0,
                        rss_bytes=process.memory_info().rss,
                    )
        finally:
            engine.dispose()


def table(samples: list[Sample], retention: float) -> str:
    rows = [
        f"| finished tasks | rows in the table (retention {retention:g} s) "
        "| tasks.db | tasks.db-wal | server memory (RSS) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for sample in samples:
        rows.append(
            f"| {sample.tasks:,} | {sample.rows:,} | {mib(sample.database_bytes)} "
            f"| {mib(sample.wal_bytes)} | {mib(sample.rss_bytes)} |"
        )
    return "\n".join(rows)


def chart(samples: list[Sample], retention: float, stamp_text: str) -> charts.LineChart:
    """Rows kept and file and memory sizes against finished tasks: flat lines mean bounded.
    Sizes in MiB to the table's 0.1, so the chart and the table show the same figures."""

    def mebibytes(size: Callable[[Sample], int]) -> list[tuple[float, float]]:
        return [(sample.tasks, round(size(sample) / MIB, 1)) for sample in samples]

    rows = charts.Panel(
        title=f"Rows in the table (retention {retention:g} s)",
        y_label="rows",
        series=[charts.Series(name="rows", points=[(s.tasks, s.rows) for s in samples])],
        y_ticks="grouped",
    )
    sizes = charts.Panel(
        title="Files and server memory",
        y_label="MiB",
        series=[
            charts.Series(name="server RSS", points=mebibytes(lambda s: s.rss_bytes)),
            charts.Series(name="tasks.db-wal", points=mebibytes(lambda s: s.wal_bytes)),
            charts.Series(name="tasks.db", points=mebibytes(lambda s: s.database_bytes)),
        ],
    )
    return charts.LineChart(
        panels=[rows, sizes], x_label="finished tasks", x_ticks="thousands", stamp=stamp_text
    )


def mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def read_table(markdown: str) -> list[Sample]:
    """The samples back from a stored table (sizes to its 0.1 MiB precision)."""
    samples = []
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].replace(",", "").isdigit():
            tasks, rows, *sizes = cells
            database, wal, rss = (int(float(size.removesuffix(" MiB")) * 2**20) for size in sizes)
            samples.append(
                Sample(int(tasks.replace(",", "")), int(rows.replace(",", "")), database, wal, rss)
            )
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--every", type=int, default=10_000)
    parser.add_argument("--retention", type=float, default=5.0, help="TASK_RETENTION_SECONDS")
    parser.add_argument("--heartbeat", type=float, default=1.0, help="HEARTBEAT_SECONDS")
    parser.add_argument("--write", action="store_true", help=f"store the table in {PAGE_TABLE}")
    args = parser.parse_args()
    if args.tasks <= 0 or args.every <= 0 or args.tasks % args.every:
        parser.error("--tasks and --every must be positive, --tasks a multiple of --every")
    samples = []
    with tempfile.TemporaryDirectory(prefix="step4-bounded-") as directory:
        for sample in measure(
            args.tasks, args.every, args.retention, args.heartbeat, Path(directory)
        ):
            print(sample, flush=True)
            samples.append(sample)
    result = table(samples, args.retention)
    print(result)
    if args.write:
        PAGE_TABLE.parent.mkdir(exist_ok=True)
        PAGE_TABLE.write_text(result + "\n", encoding="utf-8")
        measured = charts.stamp("Measured by python -m bench.step4_bounded --write,")
        charts.write(chart(samples, args.retention, measured), PAGE_CHART)


if __name__ == "__main__":
    main()
