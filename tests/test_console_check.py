"""The console-block check itself: it passes on what a real server printed, and fails on a block
doctored in any of the ways a stale page would be wrong, cut short at either end included.

The one-request stages (1 to 4) are checked here against a real run of their own; every other
block is checked, with the same doctored copies, by the test that runs its scenario
(`assert_console_matches` tries them all), and here against a console made from the block."""

from __future__ import annotations

import pytest

from tests.console_check import (
    DOCS_CONSOLE,
    console_block,
    console_problems,
    doctored_blocks,
    is_elision,
    must_be_shown,
    normalise,
)
from tests.databases import sqlite_url
from uvicorn_harness.server import StartServer
from uvicorn_harness.stage_timing import measure_one_job

ONE_REQUEST_STAGES = ["step1_blocking", "step2_background", "step3_status", "step4_database"]
EVERY_BLOCK = sorted(path.stem for path in DOCS_CONSOLE.glob("*.txt"))


@pytest.fixture(scope="module", params=ONE_REQUEST_STAGES)
def stage_console(
    request: pytest.FixtureRequest, serve: StartServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, list[str]]:
    """A stage's block name and what its server printed for one POST /long_task."""
    stage = request.param
    database = sqlite_url(tmp_path_factory.mktemp(stage))  # stage 4's; the others ignore it
    server = serve(f"{stage}.app:app", env={"TASK_SECONDS": "0", "DATABASE_URL": database})
    return stage, list(measure_one_job(server, stage, job_seconds=0).console)


def test_the_page_s_block_matches_a_real_run(stage_console: tuple[str, list[str]]) -> None:
    name, printed = stage_console
    assert console_problems(console_block(name), printed) == []


def test_every_doctored_block_fails_against_a_real_run(
    stage_console: tuple[str, list[str]],
) -> None:
    name, printed = stage_console
    passed = [
        change
        for change, block in doctored_blocks(console_block(name))
        if not console_problems(block, printed)
    ]
    assert passed == []


def doctored(name: str, replace: str, by: str) -> list[str]:
    block = console_block(name)
    changed = [line.replace(replace, by) for line in block]
    assert changed != block, f"{replace!r} is not in the block"
    return changed


@pytest.mark.parametrize(
    ("replace", "by"),
    [
        ('HTTP/1.1" 200 OK', 'HTTP/1.1" 500 Internal Server Error'),
        ("POST /long_task", "GET /long_task"),
        ("Exiting endpoint", "Leaving endpoint"),
    ],
    ids=["status code", "method", "app line"],
)
def test_a_block_with_a_changed_line_fails(
    stage_console: tuple[str, list[str]], replace: str, by: str
) -> None:
    name, printed = stage_console
    assert console_problems(doctored(name, replace, by), printed)


def test_a_block_missing_any_line_the_server_must_show_fails(
    stage_console: tuple[str, list[str]],
) -> None:
    name, printed = stage_console
    block = console_block(name)
    for left_out in range(len(block)):  # every line of these blocks is an app or access line
        problems = console_problems(block[:left_out] + block[left_out + 1 :], printed)
        assert problems and "leaves out" in problems[0], f"without line {left_out + 1}"


def as_printed(block_line: str, printed: list[str]) -> str:
    return next(line for line in printed if normalise(line) == normalise(block_line))


def test_a_block_cut_short_at_the_top_fails_unless_an_ellipsis_says_so(
    stage_console: tuple[str, list[str]],
) -> None:
    name, printed = stage_console
    block = console_block(name)
    problems = console_problems(block[1:], printed)
    assert problems == [
        f"server printed {as_printed(block[0], printed)!r} before the block's first line, "
        "which the block leaves out"
    ]
    assert console_problems(["...", *block[1:]], printed) == []


def test_a_block_cut_short_at_the_bottom_fails_unless_an_ellipsis_says_so(
    stage_console: tuple[str, list[str]],
) -> None:
    name, printed = stage_console
    block = console_block(name)
    problems = console_problems(block[:-1], printed)
    assert problems == [
        f"server printed {as_printed(block[-1], printed)!r} after the block's last line, "
        "which the block leaves out"
    ]
    assert console_problems([*block[:-1], "..."], printed) == []


def test_a_block_in_the_wrong_order_fails(stage_console: tuple[str, list[str]]) -> None:
    name, printed = stage_console
    block = console_block(name)
    # Stages 2 to 4: the job before the response, stage 1's story; stage 1: the reverse.
    block[2], block[3] = block[3], block[2]
    assert console_problems(block, printed)


def test_an_ellipsis_in_the_block_stands_for_the_lines_it_leaves_out(
    stage_console: tuple[str, list[str]],
) -> None:
    name, printed = stage_console
    block = console_block(name)
    assert console_problems([block[0], "...", block[-1]], printed) == []
    assert console_problems([block[0], block[-1]], printed)  # without it: lines missing


# Every block, against a console made from it: what the server would print if the page were
# right, an `...` standing for a line the server must show.
LEFT_OUT = "a line the block leaves out"


def console_of(block: list[str]) -> list[str]:
    return [LEFT_OUT if is_elision(line) else line for line in block]


def next_to_elision(block: list[str], n: int) -> bool:
    return any(is_elision(line) for line in block[max(n - 1, 0) : n + 2])


@pytest.mark.parametrize("name", EVERY_BLOCK)
def test_every_block_is_cut_at_each_line_it_must_show_and_at_both_ends(name: str) -> None:
    """The doctored copies cut every line the server must show, and cut the block short at
    each end, except where an `...` next to the line would stand for it (that is what `...`
    means: the check cannot tell such a cut from the page's block)."""
    block = console_block(name)
    changes = [change for change, _ in doctored_blocks(block)]
    required = [
        n for n, shown in enumerate(must_be_shown(block)) if shown and not is_elision(block[n])
    ]
    protected = [n for n in required if not next_to_elision(block, n)]
    assert protected, f"{name}: the check would see no cut of any line it shows"
    for n in protected:
        assert any(change.startswith(f"without line {n + 1} ") for change in changes)
    if not next_to_elision(block, required[0]):
        assert any(change.startswith("cut short at the top") for change in changes)
    if not next_to_elision(block, required[-1]):
        assert any(change.startswith("cut short at the bottom") for change in changes)


@pytest.mark.parametrize("name", EVERY_BLOCK)
def test_every_doctored_copy_of_every_block_fails(name: str) -> None:
    block = console_block(name)
    printed = console_of(block)
    assert console_problems(block, printed) == []
    passed = [
        change for change, copy in doctored_blocks(block) if not console_problems(copy, printed)
    ]
    assert passed == []
    for n in [n for n, line in enumerate(block) if is_elision(line)]:
        assert console_problems(block[:n] + block[n + 1 :], printed), "an `...` stands for a line"


# Two processes in one console (stage 5's `python -m`): the API's lines and the worker's.
API_LINES = [
    "Entering endpoint",
    "Exiting endpoint",
    'INFO:     1.2.3.4:5 - "POST /x HTTP/1.1" 200',
]
WORKER_LINES = [
    "[2026-01-01 00:00:00,000: INFO/MainProcess] received",
    "Starting long task",
    "Ending long task",
]
# The API's access line and the worker's "received" line race each other.
RACED = API_LINES[:2] + WORKER_LINES[:1] + API_LINES[2:] + WORKER_LINES[1:]


def from_the_worker(line: str) -> bool:
    return line in WORKER_LINES


def test_two_processes_lines_may_interleave_either_way_but_each_keeps_its_order() -> None:
    block = API_LINES + WORKER_LINES
    assert console_problems(block, RACED) != []  # one console order only, without the split
    assert console_problems(block, RACED, from_the_worker) == []
    worker_reversed = API_LINES + WORKER_LINES[::-1]
    assert console_problems(block, worker_reversed, from_the_worker) != []
    api_reversed = API_LINES[::-1] + WORKER_LINES
    assert console_problems(block, api_reversed, from_the_worker) != []


def test_each_of_two_processes_must_show_all_of_its_lines() -> None:
    for change, block in doctored_blocks(API_LINES + WORKER_LINES, from_the_worker):
        assert console_problems(block, RACED, from_the_worker), change
    # The worker's last line comes after every API line, but the block is cut short all the
    # same: at the bottom of the worker's lines.
    problems = console_problems(API_LINES + WORKER_LINES[:2], RACED, from_the_worker)
    assert problems == [
        "server printed 'Ending long task' after the block's last line, which the block leaves out"
    ]


def test_an_ellipsis_stands_for_lines_of_the_process_of_the_line_after_it() -> None:
    api_elided = ["...", *API_LINES[2:], *WORKER_LINES]
    assert console_problems(api_elided, RACED, from_the_worker) == []
    worker_elided = [*API_LINES, "...", WORKER_LINES[2]]
    assert console_problems(worker_elided, RACED, from_the_worker) == []
    # Before a worker line, an `...` stands for none of the API's lines.
    misplaced = [API_LINES[0], "...", *WORKER_LINES]
    assert console_problems(misplaced, RACED, from_the_worker) != []
    # At the block's end, it goes with the line before it.
    trailing = [*API_LINES, WORKER_LINES[0], "..."]
    assert console_problems(trailing, RACED, from_the_worker) == []
