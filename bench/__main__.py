"""`make bench`: every stage measured side by side in one run, next to an empty endpoint.

python -m bench [--quick] [--output docs/bench/results.md] [--stage step3_status ...]

Writes the tables to the markdown file the Compare page includes (and prints them), and the
wall-time chart next to it as wall-time.svg, with its data file wall-time.json (bench/charts.py).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench import charts
from bench.report import WALL_CHART_NAME, render, wall_chart
from bench.run import QUICK, Sizes, run
from bench.stages import STAGES
from uvicorn_harness.server import REPO_ROOT

DEFAULT_OUTPUT = REPO_ROOT / "docs" / "bench" / "results.md"
QUICK_OUTPUT = Path(tempfile.gettempdir()) / "bench-quick" / "results.md"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes: checks the bench runs, not the speed"
    )
    parser.add_argument(
        "--output",
        type=Path,
        help=f"markdown to write (default {DEFAULT_OUTPUT.relative_to(REPO_ROOT)}; "
        f"with --quick, {QUICK_OUTPUT}, so a smoke run never overwrites the published figures)",
    )
    names = [stage.package for stage in STAGES]
    parser.add_argument(
        "--stage", action="append", choices=names, help="measure only this stage (repeatable)"
    )
    args = parser.parse_args(argv)

    stages = tuple(stage for stage in STAGES if not args.stage or stage.package in args.stage)
    sizes = QUICK if args.quick else Sizes()
    output: Path = args.output or (QUICK_OUTPUT if args.quick else DEFAULT_OUTPUT)
    began = time.monotonic()

    def progress(message: str) -> None:
        print(f"{time.monotonic() - began:6.1f} s  {message}", flush=True)

    results = run(stages, sizes, progress)
    markdown = render(results)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(markdown)
    written = charts.write(wall_chart(results), output.parent / WALL_CHART_NAME)
    print()
    print(markdown)
    print(f"written to {output}, {' and '.join(map(str, written))}")


if __name__ == "__main__":
    main()
