"""Stage 1: the job runs inside the request, so the client waits for all of it."""

import threading
import time

import httpx

from step1_blocking.app import ENDING, STARTING
from tests.console_check import assert_console_matches
from uvicorn_harness.server import RunningServer, StartServer
from uvicorn_harness.stage_timing import JOB_SECONDS, StageTiming

STAGE = "step1_blocking"


def test_console_shows_the_job_inside_the_request(stage_timing: StageTiming) -> None:
    # uvicorn logs the POST only once the response is sent: after the job has ended.
    assert stage_timing.console_order == ("entering", "starting", "ending", "exiting", "POST 200")


def test_response_arrives_only_after_the_whole_job(stage_timing: StageTiming) -> None:
    assert stage_timing.response_seconds >= JOB_SECONDS


def test_response_body_says_the_job_completed(stage_server: RunningServer) -> None:
    response = httpx.post(f"{stage_server.url}/long_task", timeout=JOB_SECONDS * 10)
    assert response.status_code == 200
    assert response.json() == {"status": "long task completed"}


def test_two_simultaneous_requests_both_finish_in_about_one_job_length(
    stage_server: RunningServer,
) -> None:
    # A plain `def` endpoint runs in anyio's worker-thread pool, not on the event loop, so two
    # blocking requests sleep side by side: each client waits one job, not two.
    finished: list[float] = []

    def post() -> None:
        httpx.post(f"{stage_server.url}/long_task", timeout=JOB_SECONDS * 10).raise_for_status()
        finished.append(time.monotonic() - started)

    threads = [threading.Thread(target=post) for _ in range(2)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(finished) == 2
    # Served one after the other, the second would take 2 job lengths.
    assert max(finished) < 1.6 * JOB_SECONDS


def test_docs_console_block_is_what_the_server_printed(stage_timing: StageTiming) -> None:
    # docs/console/STAGE.txt is the block the stage's docs page shows.
    assert_console_matches(STAGE, stage_timing.console)


def test_a_failing_job_reaches_the_client_as_a_500(serve_fresh: StartServer) -> None:
    # The job runs inside the request, so its exception is the request's: unlike stages 2-3,
    # where the client already has its 200 (see Pitfalls).
    server = serve_fresh(f"{STAGE}.app:app", env={"TASK_SECONDS": "0.2", "TASK_FAIL": "1"})
    since = server.mark()
    response = httpx.post(f"{server.url}/long_task", timeout=10)
    assert response.status_code == 500
    server.wait_for_line(lambda text: text.startswith("RuntimeError: TASK_FAIL=1"), since)
    printed = server.console_lines(since)
    assert STARTING in printed
    assert ENDING not in printed
