"""`make compare`: serve each stage in turn with a short job, send one POST, print a table.

    python -m bench.compare [--seconds 1.0] [--write]

It prints the table aligned for a terminal. With --write it also stores the same rows as the
compare page's Markdown table and draws them as timelines, one per stage and all stacked, in
docs/bench/ (bench/timeline.py).

Every stage runs as a reader runs it, on its embedded defaults (stage 4's SQLite file, the queue
stages' folder) kept in a scratch folder that is removed afterwards. The stages compared are
uvicorn_harness.stages.STAGES.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.timeline import TIMELINE_FOLDER, write_timelines
from uvicorn_harness.queue_deployments import in_a_folder
from uvicorn_harness.server import REPO_ROOT, RunningServer, running_server
from uvicorn_harness.stage_timing import (
    StageTiming,
    format_plain_table,
    format_table,
    measure_one_job,
)
from uvicorn_harness.stages import STAGES, runs_jobs_in_workers

# The compare page includes this table: the rows of the run that drew the timelines.
TABLE_FILE = TIMELINE_FOLDER / "compare-table.md"
CELERY_READY = " ready."  # the end of the worker's "celery@host ready." line


@contextmanager
def serve_for_one_job(stage: str, job_seconds: float) -> Iterator[RunningServer]:
    """The stage's server, with TASK_SECONDS set and its data in a scratch folder."""
    with tempfile.TemporaryDirectory(prefix=f"{stage}-") as scratch:
        env = {"TASK_SECONDS": str(job_seconds)}
        if stage == "step4_database":
            env["DATABASE_URL"] = f"sqlite:///{scratch}/tasks.db"
        if runs_jobs_in_workers(stage):
            # `python -m step5_queue` (and each later stage) runs the API and one worker, in
            # one console.
            command = [sys.executable, "-m", stage]
            env |= {**in_a_folder(Path(scratch)), "PORT": "0"}
            with running_server(command=command, env=env) as server:
                server.wait_for_line(lambda text: text.endswith(CELERY_READY))
                yield server
        else:
            with running_server(f"{stage}.app:app", env=env) as server:
                yield server


def compare_stages(job_seconds: float) -> list[StageTiming]:
    timings = []
    for stage in STAGES:
        print(f"serving {stage} with TASK_SECONDS={job_seconds:g} ...", flush=True)
        with serve_for_one_job(stage, job_seconds) as server:
            timings.append(measure_one_job(server, stage, job_seconds))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--seconds", type=float, default=1.0, help="job length for every stage (TASK_SECONDS)"
    )
    parser.add_argument(
        "--write",
        action="store_true",
        help="also store the table and draw the timelines the docs show (docs/bench/)",
    )
    args = parser.parse_args()
    if args.seconds <= 0:
        parser.error("--seconds must be greater than 0")
    timings = compare_stages(args.seconds)
    print()
    print(format_plain_table(timings))
    print()
    # Only on request: a reader's `make compare` leaves their checkout as it was.
    if args.write:
        TABLE_FILE.write_text(format_table(timings) + "\n", encoding="utf-8")
        for path in [TABLE_FILE, *write_timelines(timings)]:
            print(f"wrote {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
