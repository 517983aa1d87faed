"""The console-block check itself: it passes on what a real server printed, and fails on a block
doctored in any of the ways a stale page would be wrong."""

from __future__ import annotations

import httpx
import pytest

from step2_background import app as stage2
from tests.console_check import console_block, console_problems
from uvicorn_harness.server import StartServer


@pytest.fixture(scope="module")
def stage2_console(serve: StartServer) -> list[str]:
    server = serve("step2_background.app:app", env={"TASK_SECONDS": "0"})
    since = server.mark()
    httpx.post(f"{server.url}/long_task").raise_for_status()
    server.wait_for_line(stage2.ENDING, since)
    return server.console_lines(since)


def test_the_page_s_block_matches_a_real_run(stage2_console: list[str]) -> None:
    assert console_problems(console_block("step2_background"), stage2_console) == []


def doctored(replace: str, by: str) -> list[str]:
    block = console_block("step2_background")
    changed = [line.replace(replace, by) for line in block]
    assert changed != block, f"{replace!r} is not in the block"
    return changed


@pytest.mark.parametrize(
    "block",
    [
        doctored('HTTP/1.1" 200 OK', 'HTTP/1.1" 500 Internal Server Error'),
        doctored("POST /long_task", "GET /long_task"),
        doctored("Exiting endpoint", "Leaving endpoint"),
    ],
    ids=["status code", "method", "app line"],
)
def test_a_block_with_a_changed_line_fails(stage2_console: list[str], block: list[str]) -> None:
    assert console_problems(block, stage2_console)


@pytest.mark.parametrize("left_out", [1, 2, 3], ids=["app line", "access line", "job line"])
def test_a_block_missing_a_line_fails(stage2_console: list[str], left_out: int) -> None:
    block = console_block("step2_background")
    del block[left_out]
    problems = console_problems(block, stage2_console)
    assert problems and "leaves out" in problems[0]


def test_a_block_in_the_wrong_order_fails(stage2_console: list[str]) -> None:
    block = console_block("step2_background")
    block[2], block[3] = block[3], block[2]  # the job before the response: stage 1's story
    assert console_problems(block, stage2_console)


def test_an_ellipsis_in_the_block_stands_for_the_lines_it_leaves_out(
    stage2_console: list[str],
) -> None:
    block = console_block("step2_background")
    assert console_problems([block[0], "...", block[-1]], stage2_console) == []
    assert console_problems([block[0], block[-1]], stage2_console)  # without it: lines missing


# Two processes in one console (stage 5's `python -m`): the API's lines and the worker's.
API_LINES = [
    "Entering endpoint",
    "Exiting endpoint",
    'INFO:     1.2.3.4:5 - "POST /x HTTP/1.1" 200',
]
WORKER_LINES = ["[2026-01-01 00:00:00,000: INFO/MainProcess] received", "Starting long task"]


def from_the_worker(line: str) -> bool:
    return line in WORKER_LINES


def test_two_processes_lines_may_interleave_either_way_but_each_keeps_its_order() -> None:
    block = API_LINES + WORKER_LINES
    raced = API_LINES[:2] + WORKER_LINES[:1] + API_LINES[2:] + WORKER_LINES[1:]
    assert console_problems(block, raced) != []  # one console order only, without the split
    assert console_problems(block, raced, from_the_worker) == []
    worker_reversed = API_LINES + WORKER_LINES[::-1]
    assert console_problems(block, worker_reversed, from_the_worker) != []
    api_reversed = API_LINES[::-1] + WORKER_LINES
    assert console_problems(block, api_reversed, from_the_worker) != []
