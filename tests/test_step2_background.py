"""Stage 2: BackgroundTasks sends the response first and runs the job after it."""

import httpx

from step2_background.app import ENDING
from tests.console_check import assert_console_matches
from uvicorn_harness.server import RunningServer
from uvicorn_harness.stage_timing import (
    JOB_SECONDS,
    RESPONSE_BEFORE_JOB,
    StageTiming,
    assert_answered_in_a_fraction_of_the_job,
)

STAGE = "step2_background"


def test_console_shows_the_response_leaving_before_the_job_starts(
    stage_timing: StageTiming,
) -> None:
    # The access-log line is written when the response is sent, before the task begins.
    assert stage_timing.console_order == RESPONSE_BEFORE_JOB


def test_response_returns_in_a_fraction_of_the_job(stage_timing: StageTiming) -> None:
    assert_answered_in_a_fraction_of_the_job(stage_timing)


def test_response_body_says_the_job_is_running(stage_server: RunningServer) -> None:
    since = stage_server.mark()
    response = httpx.post(f"{stage_server.url}/long_task")
    assert response.status_code == 200
    assert response.json() == {"status": "long task started"}
    # Let the job end here, so the next test's console is not interleaved with it.
    stage_server.wait_for_line(ENDING, since, timeout=JOB_SECONDS * 10)


def test_docs_console_block_is_what_the_server_printed(stage_timing: StageTiming) -> None:
    # docs/console/STAGE.txt is the block the stage's docs page shows.
    assert_console_matches(STAGE, stage_timing.console)
