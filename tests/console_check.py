"""Check a console block shown on a docs page against what a real server printed.

Console output on a page lives in `docs/console/NAME.txt` and is included with snippets, so the
page and this check read the same file. Only what differs on every run is normalised on both
sides (task ids, ports, pids, object addresses, Celery's timestamps, worker numbers and
durations); every other character, status codes included, must be the same.

The test hands over what the server printed for the request the block shows (from a mark taken
before it). The block's lines must appear there in order, and the block must show every line
the app printed and every access-log line, before its first line and after its last as much as
between them: a block cut short fails like a block that drops a line in the middle. It may leave
out uvicorn's other log lines, Celery's log lines and traceback frames. A block line `...` says,
to the reader too, that lines are left out there (a poll repeated a varying number of times, or
the start of the request, first in the block); it matches any number of lines. Two processes
sharing a console (stage 5's API and worker) keep the order of each one's lines, not the order
between them, and each must show all of its own.

`assert_console_matches` also checks the check: every block made from the page's by cutting,
changing or swapping a line must fail against the same console, so no block is one whose cut
the check could not see.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
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
SecondProcess = Callable[[str], bool]


def normalise(line: str) -> str:
    line = line.rstrip()
    for pattern, replacement in VARYING:
        line = pattern.sub(replacement, line)
    return line


def console_block(name: str) -> list[str]:
    """The lines of docs/console/NAME.txt (blank lines are layout, not output)."""
    text = (DOCS_CONSOLE / f"{name}.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


def is_elision(line: str) -> bool:
    return line.strip() == ELISION


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


def by_process(
    block: Sequence[str], second_process: SecondProcess | None
) -> list[tuple[Callable[[str], bool], list[int]]]:
    """For each process sharing the console: which printed lines are its, and the places of
    its lines in the block.

    An `...` goes with the process of the line after it (at the block's end, the line before
    it): it says that lines of that process are left out there.
    """
    if second_process is None:
        return [(lambda line: True, list(range(len(block))))]
    owners: list[bool | None] = [
        None if is_elision(line) else second_process(line) for line in block
    ]
    for n in reversed(range(len(block) - 1)):  # an `...` takes the owner of the next line
        if owners[n] is None:
            owners[n] = owners[n + 1]
    for n in range(1, len(block)):  # a trailing `...` takes the owner of the line before
        if owners[n] is None:
            owners[n] = owners[n - 1]
    return [
        (lambda line: not second_process(line), [n for n, o in enumerate(owners) if not o]),
        (second_process, [n for n, o in enumerate(owners) if o]),
    ]


@dataclass
class Matched:
    """Where a process's block lines are in its printed lines, and what its `...` stand for."""

    shown: list[int]  # the printed line each block line is (positions in the process's lines)
    elided: set[int]  # printed lines an `...` stands for

    def where(self, position: int) -> str:
        if not self.shown or position < self.shown[0]:
            return "before the block's first line"
        if position > self.shown[-1]:
            return "after the block's last line"
        return "between the block's lines"


def _match_in_order(expected: Iterable[str], seen: Sequence[str]) -> Matched | str:
    """Match block lines to the (normalised) console in order; or the problem, when a block
    line is not there."""
    shown: list[int] = []
    elided: set[int] = set()
    position, eliding = 0, False
    for line in expected:
        if is_elision(line):
            eliding = True
            continue
        wanted = normalise(line)
        found = next((n for n in range(position, len(seen)) if seen[n] == wanted), None)
        if found is None:
            return f"block line {line!r} not found in order in the server console"
        if eliding:
            elided.update(range(position, found))
            eliding = False
        shown.append(found)
        position = found + 1
    if eliding:  # a trailing `...`: everything after the last shown line
        elided.update(range(position, len(seen)))
    return Matched(shown, elided)


def console_problems(
    expected: Iterable[str],
    printed: Iterable[str],
    second_process: SecondProcess | None = None,
) -> list[str]:
    """What is wrong with the block against the console (empty when it matches).

    Where two processes share the console, `second_process` tells their lines apart, in the
    block and in the console: each process's lines must be in the block's order, but the two
    may interleave either way (the API's access line and the worker's "received" line race
    each other).
    """
    printed, expected = list(printed), list(expected)
    required = must_be_shown(printed)
    problems = []
    for belongs, places in by_process(expected, second_process):
        lines = [n for n, line in enumerate(printed) if belongs(line)]
        matched = _match_in_order(
            (expected[n] for n in places), [normalise(printed[n]) for n in lines]
        )
        if isinstance(matched, str):
            return [matched]
        problems += [
            f"server printed {printed[n]!r} {matched.where(k)}, which the block leaves out"
            for k, n in enumerate(lines)
            if required[n] and k not in matched.shown and k not in matched.elided
        ]
    return problems


def doctored_blocks(
    block: Sequence[str], second_process: SecondProcess | None = None
) -> list[tuple[str, list[str]]]:
    """Blocks a stale page could show, each made from `block` by one change, with what was
    done to it: a line changed, a line the server must show cut (one line, or the block cut
    short at its top or its bottom), two neighbouring lines of one process swapped."""
    block = list(block)
    doctored = [
        (f"with line {n + 1} changed", [*block[:n], line + " (changed)", *block[n + 1 :]])
        for n, line in enumerate(block)
        if not is_elision(line)
    ]
    for _, places in by_process(block, second_process):
        doctored += _cuts(block, places) + _swaps(block, places)
    return doctored


def _cuts(block: list[str], places: list[int]) -> list[tuple[str, list[str]]]:
    """Cuts of one process's required lines. A line next to an `...` is not cut: the `...`
    would stand for it, which is what `...` means."""
    required = [
        flag and not is_elision(line)
        for line, flag in zip(block, must_be_shown(block), strict=True)
    ]

    def next_to_elision(k: int) -> bool:
        return any(0 <= j < len(places) and is_elision(block[places[j]]) for j in (k - 1, k + 1))

    shown = [k for k, place in enumerate(places) if required[place]]
    cuts = [
        (f"without line {places[k] + 1} ({block[places[k]]!r})", [places[k]])
        for k in shown
        if not next_to_elision(k)
    ]
    if shown and not next_to_elision(shown[0]):
        top = places[: shown[0] + 1]
        cuts.append((f"cut short at the top (lines {_numbers(top)} gone)", top))
    if shown and not next_to_elision(shown[-1]):
        bottom = places[shown[-1] :]
        cuts.append((f"cut short at the bottom (lines {_numbers(bottom)} gone)", bottom))
    return [
        (change, [line for n, line in enumerate(block) if n not in gone]) for change, gone in cuts
    ]


def _swaps(block: list[str], places: list[int]) -> list[tuple[str, list[str]]]:
    swaps = []
    for first, second in itertools.pairwise(places):
        pair = block[first], block[second]
        if not any(map(is_elision, pair)) and normalise(pair[0]) != normalise(pair[1]):
            swapped = list(block)
            swapped[first], swapped[second] = pair[1], pair[0]
            swaps.append((f"with lines {first + 1} and {second + 1} swapped", swapped))
    return swaps


def _numbers(places: list[int]) -> str:
    return ", ".join(str(place + 1) for place in places)


def assert_console_matches(
    name: str, printed: Iterable[str], second_process: SecondProcess | None = None
) -> None:
    """Fail, showing both sides, unless docs/console/NAME.txt is what `printed` shows, and
    every doctored copy of it (`doctored_blocks`) is not."""
    printed, block = list(printed), console_block(name)
    problems = console_problems(block, printed, second_process)
    console = "\nserver console:\n" + "\n".join(printed)
    assert not problems, f"docs/console/{name}.txt: " + "; ".join(problems) + console
    unseen = [
        change
        for change, doctored in doctored_blocks(block, second_process)
        if not console_problems(doctored, printed, second_process)
    ]
    assert not unseen, (
        f"docs/console/{name}.txt: the check passes this block {unseen[0]} too, so a page "
        f"showing it would pass (all {len(unseen)}: {'; '.join(unseen)})" + console
    )
