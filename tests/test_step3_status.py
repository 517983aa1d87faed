"""Stage 3: the same background job, now with an id and a status to ask for.

The status API itself (ids, running/completed/failed, 404, 422) is proven for every stage that
serves it in test_status_contract.py; this module checks what is stage 3's own.
"""

import uuid

import httpx

from step3_status.app import ENDING
from tests.console_check import assert_console_matches
from uvicorn_harness.server import RunningServer
from uvicorn_harness.stage_timing import (
    JOB_SECONDS,
    RESPONSE_BEFORE_JOB,
    StageTiming,
    assert_answered_in_a_fraction_of_the_job,
)

STAGE = "step3_status"


def test_console_shows_the_response_leaving_before_the_job_starts(
    stage_timing: StageTiming,
) -> None:
    assert stage_timing.console_order == RESPONSE_BEFORE_JOB


def test_response_returns_in_a_fraction_of_the_job(stage_timing: StageTiming) -> None:
    assert_answered_in_a_fraction_of_the_job(stage_timing)


def test_task_ids_are_uuid1_as_in_the_article(stage_server: RunningServer) -> None:
    since = stage_server.mark()
    task_id = httpx.post(f"{stage_server.url}/long_task").json()
    assert uuid.UUID(task_id).version == 1
    stage_server.wait_for_line(ENDING, since, timeout=JOB_SECONDS * 10)


def test_docs_console_block_is_what_the_server_printed(stage_timing: StageTiming) -> None:
    # docs/console/STAGE.txt is the block the stage's docs page shows.
    assert_console_matches(STAGE, stage_timing.console)
