"""`make compare`: serve each article stage in turn with a short job, send one POST, print a table.

python -m bench.compare [--seconds 1.0]
"""

from __future__ import annotations

import argparse

from tests.server import running_server
from tests.stage_timing import ARTICLE_STAGES, StageTiming, format_table, measure_one_job


def compare_stages(job_seconds: float) -> list[StageTiming]:
    timings = []
    for stage in ARTICLE_STAGES:
        print(f"serving {stage} with TASK_SECONDS={job_seconds:g} ...", flush=True)
        with running_server(f"{stage}.app:app", env={"TASK_SECONDS": str(job_seconds)}) as server:
            timings.append(measure_one_job(server, stage, job_seconds))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--seconds", type=float, default=1.0, help="job length for every stage (TASK_SECONDS)"
    )
    args = parser.parse_args()
    if args.seconds <= 0:
        parser.error("--seconds must be greater than 0")
    print()
    print(format_table(compare_stages(args.seconds)))


if __name__ == "__main__":
    main()
