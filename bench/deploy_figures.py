"""The rolling deploy's figures: a table row per broker, and every job drawn to time.

The chart (a `LaneChart`, bench/charts.py) has a panel per broker and a lane per accepted job, in
the order the POSTs were answered, on one time axis (seconds since the load began): a thin line
while the job waited in the queue, a bar for each run (blue when it reached the job's end,
orange when the deploy stopped it and put it back), and a dashed line at each SIGTERM.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from bench.charts import Lane, LaneChart, LanePanel, Marker, Span, Track

if TYPE_CHECKING:  # bench/deploys.py draws its figures with this module
    from bench.deploys import Job, Outcome

BROKER_TITLES = {
    "embedded": "embedded (folder + SQLite)",
    "redis": "Redis",
    "rabbitmq": "RabbitMQ (quorum queue, results in Redis)",
}
TIMES = "\u00d7"  # the multiplication sign, spelled out for ruff's confusables check
TRACKS = [
    Track(key="finished", legend="a run to the job's end"),
    Track(key="stopped", legend="a run the deploy stopped, the job put back"),
    Track(key="waiting", legend="waiting in the queue"),
]


def table(outcomes: list[Outcome]) -> str:
    """One row per broker: what became of the accepted jobs, and what the clients saw."""
    rows = [
        "| broker | accepted | completed | lost | interrupted, then run again "
        "| ran to its end twice | longest time queued (no deploy) "
        "| `POST` p50 / p99 (p99, no deploy) | failed attempts, retried |",
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
            f"| {outcome.longest_wait:.1f} s{_without(outcome.longest_wait_without_deploy, 's')} "
            f"| {outcome.post_p50 * 1000:.0f} / {outcome.post_p99 * 1000:.0f} ms"
            f"{_without(outcome.post_p99_without_deploy, 'ms')} "
            f"| {errors}{f' ({kinds})' if kinds else ''} |"
        )
    return "\n".join(rows) + "\n"


def _without(value: float | None, unit: str) -> str:
    """ " (12.3 s)": the same load's figure without a deploy, where it was measured."""
    if value is None:
        return ""
    return f" ({value:.1f} s)" if unit == "s" else f" ({value * 1000:.0f} ms)"


def lanes_chart(outcomes: list[Outcome], stamp_text: str) -> LaneChart:
    """Every broker's jobs, one panel each, on the same time axis."""
    return LaneChart(
        title="A rolling deploy: one line per accepted job, in the order they were accepted",
        x_label="seconds since the load began",
        tracks=TRACKS,
        thin_tracks=["waiting"],
        panels=[
            LanePanel(
                title=f"{BROKER_TITLES[outcome.broker]}: {outcome.accepted} jobs accepted, "
                f"{outcome.lost} lost",
                lanes=[_lane(job) for job in outcome.jobs],
                markers=[
                    Marker(at=round(event.at, 3), label=_short(event.what))
                    for event in outcome.events
                    if event.what.endswith("SIGTERM")
                ],
            )
            for outcome in outcomes
        ],
        markers_legend="SIGTERM",
        stamp=stamp_text,
    )


def _lane(job: Job) -> Lane:
    first_start = job.runs[0].start if job.runs else job.posted
    waits = [(job.posted, first_start)]
    waits += [(one.end, after.start) for one, after in itertools.pairwise(job.runs)]
    spans = [Span(track="waiting", start=round(a, 3), end=round(b, 3)) for a, b in waits]
    spans += [
        Span(
            track="finished" if run.finished else "stopped",
            start=round(run.start, 3),
            end=round(run.end, 3),
        )
        for run in job.runs
    ]
    return Lane(spans=spans)


def _short(what: str) -> str:
    """ "API process 1: SIGTERM" -> "API 1", "worker 2: SIGTERM" -> "worker 2"."""
    return what.split(":")[0].replace("API process", "API")
