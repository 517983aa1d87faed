"""The rolling deploy's figures: one table row per broker, and every job drawn to time.

The chart has one panel per broker: a row per accepted job, in the order the POSTs were
answered, on one time axis (seconds since the load began): a thin line while the job waited in
the queue, a bar for each run (blue when it reached the job's end, orange when the deploy
stopped it and put it back), and a vertical line at each SIGTERM. Each run's bar carries its
times as data attributes and each panel its scale, so a test reads a drawn position back into
seconds and compares it with the data file.
"""

from __future__ import annotations

import itertools
import math
from html import escape
from typing import TYPE_CHECKING
from xml.etree import ElementTree

from bench.charts import SVG_NAMESPACE, TEXT_COLOUR, nice_step

if TYPE_CHECKING:  # bench/deploys.py draws its figures with this module
    from collections.abc import Callable

    from bench.deploys import Event, Outcome

BROKER_TITLES = {
    "embedded": "embedded (folder + SQLite)",
    "redis": "Redis",
    "rabbitmq": "RabbitMQ (quorum queue, results in Redis)",
}
WIDTH = 860
LEFT = 20
RIGHT = 20
PANEL_TOP = 40  # the panel's title and its legend, then the SIGTERMs' labels
LABEL_ROW = 11
LABEL_CHARACTER_PX = 6  # a generous width of one 10 px character
ROW_SPACE = 240  # the jobs' rows of one panel
AXIS = 40  # ticks and their labels
STAMP_LINE = 15
COMPLETED_COLOUR = "#4a7bd0"
INTERRUPTED_COLOUR = "#d0843a"
WAIT_COLOUR = "#888888"
SIGTERM_COLOUR = "#b04ab0"
TIMES = "\u00d7"  # the multiplication sign, spelled out for ruff's confusables check


def table(outcomes: list[Outcome]) -> str:
    """One row per broker: what became of the accepted jobs, and what the clients saw."""
    rows = [
        "| broker | accepted | completed | lost | interrupted, then run again "
        "| ran to its end twice | longest wait | `POST` p50 / p99 | failed attempts, retried |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for outcome in outcomes:
        errors = sum(outcome.post_errors.values())
        kinds = ", ".join(
            f"{kind} {TIMES}{count}" for kind, count in sorted(outcome.post_errors.items())
        )
        rows.append(
            f"| {BROKER_TITLES[outcome.broker]} | {outcome.accepted} | {outcome.completed} "
            f"| **{outcome.lost}** | {outcome.interrupted_ran_again} | {outcome.ran_to_end_twice} "
            f"| {outcome.longest_wait:.1f} s "
            f"| {outcome.post_p50 * 1000:.0f} / {outcome.post_p99 * 1000:.0f} ms "
            f"| {errors}{f' ({kinds})' if kinds else ''} |"
        )
    return "\n".join(rows) + "\n"


def chart_svg(outcomes: list[Outcome], stamp_text: str) -> str:
    """Every broker's jobs, one panel each, stacked on the same time axis."""
    longest = max(run.end for outcome in outcomes for job in outcome.jobs for run in job.runs)
    step = nice_step(longest, ticks=8)
    axis_end = math.ceil(longest / step) * step
    scale = (WIDTH - LEFT - RIGHT) / axis_end
    panels, top = [], 0
    for outcome in outcomes:
        drawn, height = _panel(outcome, top, scale, step, axis_end)
        panels.append(drawn)
        top += height
    stamp_lines = _wrap(stamp_text, WIDTH // 7)
    height = top + 8 + STAMP_LINE * len(stamp_lines)
    label = (
        "Every accepted job of a rolling deploy, per broker: the time each waited and each of "
        "its runs, with the deploy's SIGTERMs"
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="13" role="img" '
        f'aria-label="{escape(label)}">',
        *panels,
    ]
    for number, line in enumerate(stamp_lines):
        parts.append(
            f'<text x="0" y="{top + 16 + STAMP_LINE * number}" fill="{TEXT_COLOUR}" '
            f'font-size="12">{escape(line)}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _panel(
    outcome: Outcome, top: float, scale: float, step: float, axis_end: float
) -> tuple[str, float]:
    def x(seconds: float) -> float:
        return LEFT + seconds * scale

    sigterms = [event for event in outcome.events if event.what.endswith("SIGTERM")]
    label_rows = 1 + max((row for _, row in _label_rows(sigterms, x)), default=0)
    jobs_top = top + PANEL_TOP + LABEL_ROW * label_rows + 4
    row = min(ROW_SPACE / max(len(outcome.jobs), 1), 4.0)
    bottom = jobs_top + row * len(outcome.jobs)
    height = bottom - top + AXIS

    parts = [
        f'<g data-broker="{outcome.broker}" data-x0="{LEFT}" data-x-scale="{scale:.8f}">',
        f'<text x="{LEFT}" y="{top + 18}" fill="{TEXT_COLOUR}" font-weight="bold">'
        f"{escape(BROKER_TITLES[outcome.broker])}: {outcome.accepted} jobs accepted, "
        f"{outcome.lost} lost</text>",
    ]
    legend = [
        (WAIT_COLOUR, "waiting"),
        (COMPLETED_COLOUR, "run to its end"),
        (INTERRUPTED_COLOUR, "stopped by the deploy, put back"),
        (SIGTERM_COLOUR, "SIGTERM"),
    ]
    for index, (colour, name) in enumerate(legend):
        left = LEFT + index * 190
        parts.append(
            f'<rect x="{left}" y="{top + 28}" width="14" height="4" fill="{colour}"/>'
            f'<text x="{left + 18}" y="{top + 34}" fill="{TEXT_COLOUR}" font-size="12">'
            f"{escape(name)}</text>"
        )
    for event, label_row in _label_rows(sigterms, x):
        label_y = top + PANEL_TOP + LABEL_ROW * (label_row + 1)
        parts.append(
            f'<line data-event="{escape(event.what)}" x1="{x(event.at):.2f}" y1="{label_y:.1f}" '
            f'x2="{x(event.at):.2f}" y2="{bottom}" stroke="{SIGTERM_COLOUR}" '
            f'stroke-dasharray="3 2"/><text x="{x(event.at) + 2:.2f}" y="{label_y:.1f}" '
            f'fill="{TEXT_COLOUR}" font-size="10">{escape(_short(event.what))}</text>'
        )
    for index, job in enumerate(outcome.jobs):
        y = jobs_top + index * row
        waits = [(job.posted, job.runs[0].start if job.runs else job.posted)]
        waits += [(one.end, after.start) for one, after in itertools.pairwise(job.runs)]
        for since, until in waits:
            parts.append(
                f'<line x1="{x(since):.2f}" y1="{y + row / 2:.2f}" x2="{x(until):.2f}" '
                f'y2="{y + row / 2:.2f}" stroke="{WAIT_COLOUR}" stroke-width="1"/>'
            )
        for run in job.runs:
            colour = COMPLETED_COLOUR if run.finished else INTERRUPTED_COLOUR
            parts.append(
                f'<rect data-job="{index}" data-finished="{str(run.finished).lower()}" '
                f'x="{x(run.start):.2f}" y="{y:.2f}" '
                f'width="{max((run.end - run.start) * scale, 1):.2f}" '
                f'height="{row * 0.8:.2f}" fill="{colour}"/>'
            )
    for tick in range(round(axis_end / step) + 1):
        seconds = tick * step
        parts.append(
            f'<line x1="{x(seconds):.1f}" y1="{bottom}" x2="{x(seconds):.1f}" y2="{bottom + 4}" '
            f'stroke="{TEXT_COLOUR}"/><text x="{x(seconds):.1f}" y="{bottom + 17}" '
            f'fill="{TEXT_COLOUR}" font-size="12" text-anchor="middle">{seconds:g} s</text>'
        )
    parts.append("</g>")
    return "\n".join(parts), height


def _short(what: str) -> str:
    """ "API process 1: SIGTERM" -> "API 1", "worker 2: SIGTERM" -> "worker 2"."""
    return what.split(":")[0].replace("API process", "API")


def _label_rows(events: list[Event], x: Callable[[float], float]) -> list[tuple[Event, int]]:
    """Each SIGTERM's label on the first row where it overlaps no label before it."""
    ends: list[float] = []  # where each row's last label ends, in pixels
    placed = []
    for event in sorted(events, key=lambda event: event.at):
        left = x(event.at)
        row = next((number for number, end in enumerate(ends) if end < left), len(ends))
        if row == len(ends):
            ends.append(0.0)
        ends[row] = left + 4 + LABEL_CHARACTER_PX * len(_short(event.what))
        placed.append((event, row))
    return placed


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return lines


def read_runs(svg_text: str) -> dict[str, list[list[tuple[float, float, bool]]]]:
    """broker -> each job's runs as drawn, (start, end, finished), read back through the panel's
    scale."""
    found: dict[str, list[list[tuple[float, float, bool]]]] = {}
    for group in ElementTree.fromstring(svg_text).iter(f"{SVG_NAMESPACE}g"):
        x0, scale = float(group.attrib["data-x0"]), float(group.attrib["data-x-scale"])
        jobs: dict[int, list[tuple[float, float, bool]]] = {}
        for bar in group.iter(f"{SVG_NAMESPACE}rect"):
            if "data-job" not in bar.attrib:
                continue  # a legend swatch
            start = (float(bar.attrib["x"]) - x0) / scale
            end = start + float(bar.attrib["width"]) / scale
            finished = bar.attrib["data-finished"] == "true"
            jobs.setdefault(int(bar.attrib["data-job"]), []).append((start, end, finished))
        found[group.attrib["data-broker"]] = [jobs[index] for index in sorted(jobs)]
    return found
