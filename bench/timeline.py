"""Timelines drawn to time: one request per stage, from the measurement `make compare` takes.

For each stage, two spans on one time axis (seconds since the POST was sent): the client waiting
(POST sent -> response arrived) and the job running ("Starting long task" -> "Ending long task"
on the server's console). `bench/compare.py` writes one chart with every stage stacked (the
compare page) and one per stage (each stage page), each with its data file (bench/charts.py);
the docs tests check the data files against a fresh measurement.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from bench import charts
from uvicorn_harness.server import REPO_ROOT
from uvicorn_harness.stage_timing import StageTiming, duration

TIMELINE_FOLDER = REPO_ROOT / "docs" / "bench"
STACKED_FILE = TIMELINE_FOLDER / "timeline.svg"
CLIENT, JOB = "client", "job"


def stage_file(stage: str) -> Path:
    return TIMELINE_FOLDER / f"timeline-{stage}.svg"


def stamp(when: datetime | None = None) -> str:
    """When and where the measurement was taken, like every chart's stamp."""
    return charts.stamp("Measured", when, by="make compare")


def timeline(timings: list[StageTiming], stamp_text: str) -> charts.Timeline:
    """The stages' requests on one time axis, to 0.1 ms."""
    return charts.Timeline(
        title="One POST /long_task per stage, drawn to time",
        x_label="seconds since the POST was sent",
        tracks=[
            charts.Track(key=CLIENT, legend="client waits: POST sent → response arrived"),
            charts.Track(key=JOB, legend='job runs: "Starting long task" → "Ending long task"'),
        ],
        rows=[
            charts.TimelineRow(
                label=timing.stage,
                spans=[
                    charts.Span(track=CLIENT, start=0.0, end=round(timing.response_seconds, 4)),
                    charts.Span(
                        track=JOB,
                        start=round(timing.job_started_seconds, 4),
                        end=round(timing.job_finished_seconds, 4),
                    ),
                ],
                note=duration(timing.response_seconds),
            )
            for timing in timings
        ],
        stamp=stamp_text,
    )


def write_timelines(timings: list[StageTiming]) -> list[Path]:
    """The stacked timeline and one per stage, in docs/bench/; the files written."""
    stamp_text = stamp()
    written = charts.write(timeline(timings, stamp_text), STACKED_FILE)
    for timing in timings:
        written += charts.write(timeline([timing], stamp_text), stage_file(timing.stage))
    return written
