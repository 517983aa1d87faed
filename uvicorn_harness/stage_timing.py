"""Measure one job on a running stage server: when the response came, when the job ended, and
the order of the console lines. The stage tests assert on it, `make compare` prints it, and the
pytest summary tabulates what the tests measured.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import httpx

from uvicorn_harness.server import RunningServer
from uvicorn_harness.stages import console_module

# Jobs in tests are shortened through the documented setting, never by changing the code.
JOB_SECONDS = 2.0
ARTICLE_STAGES = ("step1_blocking", "step2_background", "step3_status")
ACCESS_LOG_POST = re.compile(r'"POST /long_task HTTP/1\.1" (\d{3})')
# Short labels for the stage's console constants, in the words of the article's prints.
# What every background stage (2 to 5) prints: the response is logged before the job starts.
RESPONSE_BEFORE_JOB = ("entering", "exiting", "POST 200", "starting", "ending")
EVENT_LABELS = {
    "ENTERING": "entering",
    "STARTING": "starting",
    "ENDING": "ending",
    "EXITING": "exiting",
}


@dataclass(frozen=True)
class StageTiming:
    stage: str
    job_seconds: float
    response_seconds: float  # from sending the POST to having the whole response
    job_started_seconds: float  # from sending the POST to the job's "starting" line
    job_finished_seconds: float  # from sending the POST to the job's "ending" line
    console_order: tuple[str, ...]  # app lines and uvicorn's access-log line, as printed
    console: tuple[str, ...]  # every line the server printed for this job, verbatim
    console_since: int  # where `console` starts in the server's (a `since` for its lines)


def console_strings(stage: str) -> dict[str, str]:
    """The stage's own console strings (defined once in its code) mapped to short labels."""
    strings = console_module(stage)
    return {getattr(strings, name): label for name, label in EVENT_LABELS.items()}


def console_events(stage: str, lines: list[str]) -> list[str]:
    """The job's console events in order, with uvicorn's access-log line as "POST <code>"."""
    labels = console_strings(stage)
    events = []
    for line in lines:
        if line in labels:
            events.append(labels[line])
        elif match := ACCESS_LOG_POST.search(line):
            events.append(f"POST {match.group(1)}")
    return events


def measure_one_job(server: RunningServer, stage: str, job_seconds: float) -> StageTiming:
    """Send one POST /long_task and wait (with a deadline) until the job and the log are done."""
    since = server.mark()
    labels = console_strings(stage)
    ending_text = next(text for text, label in labels.items() if label == "ending")
    starting_text = next(text for text, label in labels.items() if label == "starting")
    with httpx.Client(base_url=server.url, timeout=job_seconds * 10 + 10) as client:
        sent = time.monotonic()
        response = client.post("/long_task")
        answered = time.monotonic()
    response.raise_for_status()
    ending = server.wait_for_line(ending_text, since, timeout=job_seconds * 10 + 10)
    server.wait_for_line(lambda text: bool(ACCESS_LOG_POST.search(text)), since)
    # In stage 1 "exiting" follows "ending"; wait for it too so the order is complete.
    server.wait_for_line(lambda text: console_strings(stage).get(text) == "exiting", since)
    starting = server.wait_for_line(starting_text, since)
    return StageTiming(
        stage=stage,
        job_seconds=job_seconds,
        response_seconds=answered - sent,
        job_started_seconds=starting.at - sent,
        job_finished_seconds=ending.at - sent,
        console_order=tuple(console_events(stage, server.console_lines(since))),
        console=tuple(server.console_lines(since)),
        console_since=since,
    )


def assert_answered_in_a_fraction_of_the_job(timing: StageTiming) -> None:
    """A background stage answers in under half the job (and 1 s); the job still runs.

    The cases to separate: the blocking stage answers after the whole job, the background ones
    in 10-80 ms. Half the job is the midpoint between the two, so a first request on a loaded
    2-core machine still lands on its side: the first POST to stages 5 and 6 opens the result
    store and the broker connection and finalizes the Celery app, 0.7 s seen there while four
    other test processes kept both cores busy.
    """
    assert timing.response_seconds < min(timing.job_seconds / 2, 1.0), (
        f"{timing.stage} answered after {timing.response_seconds:.3f} s "
        f"(job {timing.job_seconds:g} s)"
    )
    assert timing.job_finished_seconds >= timing.job_seconds


def format_table(timings: list[StageTiming]) -> str:
    """A markdown table, one row per measurement, readable in a terminal as it is."""
    rows = [
        "| stage | job length | response after | job finished after | console order |",
        "|---|---:|---:|---:|---|",
    ]
    for timing in timings:
        rows.append(
            f"| {timing.stage} | {timing.job_seconds:.1f} s | {duration(timing.response_seconds)} "
            f"| {duration(timing.job_finished_seconds)} | {' → '.join(timing.console_order)} |"
        )
    return "\n".join(rows)


def format_plain_table(timings: list[StageTiming]) -> str:
    """The same table for a terminal: columns padded and aligned, no Markdown syntax."""
    header = ("stage", "job length", "response after", "job finished after", "console order")
    rows = [
        (
            timing.stage,
            f"{timing.job_seconds:.1f} s",
            duration(timing.response_seconds),
            duration(timing.job_finished_seconds),
            " → ".join(timing.console_order),
        )
        for timing in timings
    ]
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    right_aligned = (False, True, True, True, False)  # the figures line up on their units

    def line(cells: tuple[str, ...]) -> str:
        padded = [
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, right in zip(cells, widths, right_aligned, strict=True)
        ]
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"
