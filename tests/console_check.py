"""Check a console block shown on a docs page against what a real server printed.

Console output on a page lives in `docs/console/NAME.txt` and is included with snippets, so the
page and this check read the same file. Only what differs on every run is normalised on both
sides (task ids, ports, pids, object addresses, Celery's timestamps, worker numbers and
durations); every other character, status codes included, must be the same. The block's lines
must appear in the server's console in order, and between the first and the last of them the
block may leave out uvicorn's own log lines and traceback frames, but no line the app printed
and no access-log line: a block that drops a request or a job's line fails. A block line `...`
says, to the reader too, that lines are left out there (a poll repeated a varying number of
times); it matches any number of lines. Two processes sharing a console (stage 5's API and
worker) keep the order of each one's lines, not the order between them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

DOCS_CONSOLE = Path(__file__).resolve().parent.parent / "docs" / "console"
VARYING = [
    # (what changes between runs, what both sides become)
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "ID"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
    (re.compile(r"process \[\d+\]"), "process [PID]"),
    (re.compile(r"0x[0-9a-f]+"), "0xADDRESS"),
    (re.compile(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}: "), "[TIME: "),  # Celery's prefix
    (re.compile(r"ForkPoolWorker-\d+"), "ForkPoolWorker-N"),
    (re.compile(r"\bin \d+(\.\d+)?s\b"), "in DURATIONs"),  # Celery's "succeeded in 2.0278s"
]
ACCESS_LOG = re.compile(r'^INFO: +\S+ - "[A-Z]+ \S+ HTTP/[\d.]+" \d{3}')
UVICORN_LOG = re.compile(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL): ")
CELERY_LOG = re.compile(r"^\[\d{4}-\d\d-\d\d ")
TRACEBACK = "Traceback (most recent call last):"
ELISION = "..."


def normalise(line: str) -> str:
    line = line.rstrip()
    for pattern, replacement in VARYING:
        line = pattern.sub(replacement, line)
    return line


def console_block(name: str) -> list[str]:
    """The lines of docs/console/NAME.txt (blank lines are layout, not output)."""
    text = (DOCS_CONSOLE / f"{name}.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


def must_be_shown(printed: Sequence[str]) -> list[bool]:
    """For each printed line: is it an access-log line or a line the app printed?

    uvicorn's other log lines, Celery's log lines, and tracebacks (from "Traceback" to the next
    log line) may be left out of a block.
    """
    flags, in_traceback = [], False
    for line in printed:
        if UVICORN_LOG.match(line) or CELERY_LOG.match(line):
            in_traceback = False
        elif line.startswith(TRACEBACK):
            in_traceback = True
        flags.append(
            bool(ACCESS_LOG.match(line))
            or not (
                in_traceback
                or UVICORN_LOG.match(line)
                or CELERY_LOG.match(line)
                or not line.strip()
            )
        )
    return flags


def _match_in_order(
    expected: Iterable[str], seen: Sequence[str]
) -> tuple[list[int], set[int]] | str:
    """Where each block line is in the (normalised) console, in order, and the lines a `...`
    stands for; or the problem, when a block line is not there."""
    matched: list[int] = []
    elided: set[int] = set()  # printed lines a `...` in the block stands for
    position, eliding = 0, False
    for line in expected:
        if line.strip() == ELISION:
            eliding = True
            continue
        wanted = normalise(line)
        found = next((n for n in range(position, len(seen)) if seen[n] == wanted), None)
        if found is None:
            return f"block line {line!r} not found in order in the server console"
        if eliding:
            elided.update(range(position, found))
            eliding = False
        matched.append(found)
        position = found + 1
    return matched, elided


def console_problems(
    expected: Iterable[str],
    printed: Iterable[str],
    second_process: Callable[[str], bool] | None = None,
) -> list[str]:
    """What is wrong with the block against the console (empty when it matches).

    Where two processes share the console, `second_process` tells their lines apart: each
    process's lines must be in the block's order, but the two may interleave either way (the
    API's access line and the worker's "received" line race each other).
    """
    printed, expected = list(printed), list(expected)
    seen = [normalise(line) for line in printed]
    if second_process is None:
        groups = [expected]
    else:
        groups = [
            [line for line in expected if not second_process(line)],
            [line for line in expected if second_process(line)],
        ]
    matched: list[int] = []
    shown: set[int] = set()
    for group in groups:
        found = _match_in_order(group, seen)
        if isinstance(found, str):
            return [found]
        matched += found[0]
        shown |= set(found[0]) | found[1]
    if not matched:
        return []
    required = must_be_shown(printed)
    return [
        f"server printed {printed[n]!r}, which the block leaves out"
        for n in range(min(matched), max(matched) + 1)
        if required[n] and n not in shown
    ]


def assert_console_matches(
    name: str, printed: Iterable[str], second_process: Callable[[str], bool] | None = None
) -> None:
    """Fail, showing both sides, unless docs/console/NAME.txt is what `printed` shows."""
    printed = list(printed)
    problems = console_problems(console_block(name), printed, second_process)
    assert not problems, (
        f"docs/console/{name}.txt: "
        + "; ".join(problems)
        + "\nserver console:\n"
        + "\n".join(printed)
    )
