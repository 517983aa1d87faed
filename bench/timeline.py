"""Timelines drawn to time: one request per stage, from the measurement `make compare` takes.

For each stage, two bars on one time axis (seconds since the POST was sent): the client waiting
(POST sent -> response arrived) and the job running ("Starting long task" -> "Ending long task"
on the server's console). `bench/compare.py` writes one SVG with every stage stacked (the compare
page) and one per stage (each stage page); tests/test_docs.py reads the drawn positions back and
checks them against a fresh measurement.

The SVG carries its scale as data attributes (`data-origin-x`, `data-pixels-per-second`) and each
bar its stage and events, so a drawn position converts back to seconds without guessing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path
from xml.etree import ElementTree

from bench import charts
from uvicorn_harness.server import REPO_ROOT
from uvicorn_harness.stage_timing import StageTiming, duration

TIMELINE_FOLDER = REPO_ROOT / "docs" / "bench"
STACKED_FILE = TIMELINE_FOLDER / "timeline.svg"

WIDTH = 860
LABELS = 150  # stage names, left of the axis
RIGHT_MARGIN = 30
TOP = 56  # title and legend
ROW = 52  # one stage: the client's bar above the job's
BAR = 14
AXIS = 44  # ticks, their labels and the stamp
CLIENT_COLOUR = "#4a7bd0"
JOB_COLOUR = "#d0843a"
TEXT_COLOUR = "#888888"  # readable on the light and the dark theme


def stage_file(stage: str) -> Path:
    return TIMELINE_FOLDER / f"timeline-{stage}.svg"


def stamp(when: datetime | None = None) -> str:
    """When and where the measurement was taken, like the benchmark's stamp."""
    return charts.stamp("Measured", when, by="make compare")


def timeline_svg(timings: list[StageTiming], stamp_text: str) -> str:
    """The stages' timelines stacked on one time axis, as a standalone SVG document."""
    longest = max(max(t.response_seconds, t.job_finished_seconds) for t in timings)
    step = charts.nice_step(longest, ticks=6)
    axis_end = math.ceil(longest / step) * step
    plot = WIDTH - LABELS - RIGHT_MARGIN
    scale = plot / axis_end
    height = TOP + ROW * len(timings) + AXIS

    def x(seconds: float) -> float:
        return LABELS + seconds * scale

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="13" role="img" '
        f'data-origin-x="{LABELS}" data-pixels-per-second="{scale:.6f}" '
        f'aria-label="One POST /long_task per stage, drawn to time">',
        f'<text x="0" y="16" fill="{TEXT_COLOUR}" font-weight="bold">One POST /long_task per '
        "stage, drawn to time (seconds since the POST was sent)</text>",
        f'<rect x="0" y="28" width="14" height="10" fill="{CLIENT_COLOUR}"/>'
        f'<text x="20" y="37" fill="{TEXT_COLOUR}">client waits: POST sent → response arrived'
        "</text>",
        f'<rect x="360" y="28" width="14" height="10" fill="{JOB_COLOUR}"/>'
        f'<text x="380" y="37" fill="{TEXT_COLOUR}">job runs: "Starting long task" → '
        '"Ending long task"</text>',
    ]
    bottom = TOP + ROW * len(timings)
    for number in range(round(axis_end / step) + 1):
        seconds = number * step
        parts.append(
            f'<line x1="{x(seconds):.1f}" y1="{TOP - 4}" x2="{x(seconds):.1f}" y2="{bottom}" '
            f'stroke="{TEXT_COLOUR}" stroke-opacity="0.35"/>'
            f'<text x="{x(seconds):.1f}" y="{bottom + 16}" fill="{TEXT_COLOUR}" '
            f'text-anchor="middle">{seconds:g} s</text>'
        )
    for row, timing in enumerate(timings):
        top = TOP + row * ROW
        parts.append(_row(timing, top, x))
    parts.append(
        f'<text x="0" y="{height - 6}" fill="{TEXT_COLOUR}" font-size="12">'
        f"{escape(stamp_text)}</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _row(timing: StageTiming, top: float, at: Callable[[float], float]) -> str:
    """One stage's label and bars; `at` turns seconds into the x coordinate."""
    client_end = at(timing.response_seconds)
    job_start, job_end = at(timing.job_started_seconds), at(timing.job_finished_seconds)
    origin = at(0.0)
    return (
        f'<text x="{LABELS - 8}" y="{top + 26}" text-anchor="end" fill="{TEXT_COLOUR}">'
        f"{escape(timing.stage)}</text>"
        f'<rect data-stage="{timing.stage}" data-bar="client" data-from="sent" '
        f'data-to="response" data-seconds="{timing.response_seconds:.4f}" x="{origin:.2f}" '
        f'y="{top + 6}" width="{max(client_end - origin, 1.5):.2f}" height="{BAR}" '
        f'fill="{CLIENT_COLOUR}"><title>response after {timing.response_seconds:.3f} s'
        "</title></rect>"
        f'<rect data-stage="{timing.stage}" data-bar="job" data-from="started" data-to="ended" '
        f'data-started="{timing.job_started_seconds:.4f}" '
        f'data-ended="{timing.job_finished_seconds:.4f}" x="{job_start:.2f}" y="{top + 24}" '
        f'width="{max(job_end - job_start, 1.5):.2f}" height="{BAR}" fill="{JOB_COLOUR}">'
        f"<title>job from {timing.job_started_seconds:.3f} s to "
        f"{timing.job_finished_seconds:.3f} s</title></rect>"
        f'<text x="{max(client_end, origin + 1.5) + 6:.1f}" y="{top + 17}" '
        f'fill="{TEXT_COLOUR}" font-size="12">{duration(timing.response_seconds)}</text>'
    )


@dataclass(frozen=True)
class DrawnTimeline:
    """What an SVG shows for one stage, read back from the drawn positions (in seconds)."""

    stage: str
    response_seconds: float
    job_started_seconds: float
    job_finished_seconds: float


def read_drawn(svg_text: str) -> list[DrawnTimeline]:
    """Every stage's bars converted back to seconds through the SVG's own scale."""
    root = ElementTree.fromstring(svg_text)
    origin = float(root.attrib["data-origin-x"])
    scale = float(root.attrib["data-pixels-per-second"])
    bars: dict[str, dict[str, ElementTree.Element]] = {}
    for rect in root.iter("{http://www.w3.org/2000/svg}rect"):
        if "data-stage" in rect.attrib:
            bars.setdefault(rect.attrib["data-stage"], {})[rect.attrib["data-bar"]] = rect

    def seconds(pixels: float) -> float:
        return (pixels - origin) / scale

    drawn = []
    for stage, bar in bars.items():
        client, job = bar["client"], bar["job"]
        job_x = float(job.attrib["x"])
        drawn.append(
            DrawnTimeline(
                stage=stage,
                response_seconds=seconds(float(client.attrib["x"]) + float(client.attrib["width"])),
                job_started_seconds=seconds(job_x),
                job_finished_seconds=seconds(job_x + float(job.attrib["width"])),
            )
        )
    return drawn


def write_timelines(timings: list[StageTiming]) -> list[Path]:
    """The stacked timeline and one per stage, in docs/bench/; the files written."""
    stamp_text = stamp()
    TIMELINE_FOLDER.mkdir(parents=True, exist_ok=True)
    STACKED_FILE.write_text(timeline_svg(timings, stamp_text), encoding="utf-8")
    written = [STACKED_FILE]
    for timing in timings:
        stage_path = stage_file(timing.stage)
        stage_path.write_text(timeline_svg([timing], stamp_text), encoding="utf-8")
        written.append(stage_path)
    return written
