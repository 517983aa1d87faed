"""Stage 5: the web process only enqueues; a Celery worker process runs the job.

The status API itself is proven for stage 5 (embedded and on Redis) in test_status_contract.py;
crashes are in test_step5_queue_crashes.py. This module runs stage 5 as a reader does,
`python -m step5_queue` (API and worker in one console), and checks what is stage 5's own.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress

import httpx
import pytest

from step5_queue.tasks import STARTING
from tests.conftest import JOB_SECONDS, StartServer
from tests.console_check import assert_console_matches
from tests.many_requests import post_at_once
from tests.server import RunningServer, wait_until
from tests.stage_timing import StageTiming
from tests.step5_deployments import (
    STAGE,
    embedded,
    embedded_env,
    message_files,
    redis_env,
    start_api,
    start_worker,
)

WORKER_READY = " ready."


@pytest.fixture(scope="module")
def queue_env() -> dict[str, str]:
    return {**embedded_env(), "TASK_SECONDS": str(JOB_SECONDS), "WORKER_CONCURRENCY": "2"}


@pytest.fixture(scope="module")
def stage_server(serve: StartServer, queue_env: dict[str, str]) -> RunningServer:
    """`python -m step5_queue` with the short job; the API and its worker share one console."""
    server = serve(command=[sys.executable, "-m", STAGE], env={**queue_env, "PORT": "0"})
    server.wait_for_line(lambda text: text.endswith(WORKER_READY))
    return server


@pytest.fixture
def client(stage_server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stage_server.url, timeout=10) as client:
        yield client


def status_of(client: httpx.Client, task_id: str) -> str:
    return client.get("/status", params={"task_id": task_id}).json()


@pytest.fixture(scope="module")
def first_job_console(stage_timing: StageTiming, stage_server: RunningServer) -> list[str]:
    """Everything `python -m` printed up to Celery's line that the measured job succeeded."""
    stage_server.wait_for_line(lambda text: "succeeded in" in text)
    return stage_server.console_lines()


def test_the_api_answers_and_a_worker_process_runs_the_job(
    stage_timing: StageTiming, first_job_console: list[str]
) -> None:
    app_lines = [event for event in stage_timing.console_order if event != "POST 200"]
    assert app_lines == ["entering", "exiting", "starting", "ending"]
    assert "POST 200" in stage_timing.console_order
    assert any("ForkPoolWorker" in line and "succeeded" in line for line in first_job_console)


def test_response_returns_in_a_fraction_of_the_job(stage_timing: StageTiming) -> None:
    assert stage_timing.response_seconds < min(JOB_SECONDS / 10, 1.0)
    assert stage_timing.job_finished_seconds >= JOB_SECONDS


def test_console_block_on_the_docs_page_is_what_python_dash_m_prints(
    first_job_console: list[str],
) -> None:
    assert_console_matches("step5_queue", first_job_console)


def test_a_finished_jobs_message_is_gone_from_the_folder(
    stage_timing: StageTiming, queue_env: dict[str, str]
) -> None:
    assert stage_timing.job_finished_seconds > 0
    assert message_files(queue_env) == []


def test_python_dash_m_runs_beat_so_sqlite_results_expire(stage_server: RunningServer) -> None:
    # Celery's beat sends its built-in cleanup task, which deletes expired SQLite results.
    stage_server.wait_for_line(lambda text: "beat: Starting" in text)


def test_killing_and_restarting_the_api_mid_job_leaves_the_job_and_its_status_alone(
    serve_fresh: StartServer,
) -> None:
    env = {**embedded_env(), "TASK_SECONDS": "3"}
    worker = start_worker(serve_fresh, env)
    api = start_api(serve_fresh, env)
    task_id = httpx.post(f"{api.url}/long_task").json()
    worker.wait_for_line(STARTING)
    api.stop(signal.SIGKILL)

    restarted = start_api(serve_fresh, env)
    with httpx.Client(base_url=restarted.url) as client:
        assert status_of(client, task_id) == "running"
        wait_until(lambda: status_of(client, task_id) == "completed", 15, "status completed")
    assert worker.console_lines().count(STARTING) == 1


def test_a_failed_job_reports_its_error(serve_fresh: StartServer) -> None:
    api = embedded(serve_fresh, {"TASK_SECONDS": "0.1", "TASK_FAIL": "1"})
    with httpx.Client(base_url=api.url) as client:
        task_id = client.post("/long_task").json()
        wait_until(lambda: status_of(client, task_id) == "failed", 20, "status failed")
        task = client.get(f"/tasks/{task_id}").json()
        unknown = client.get("/tasks/not-a-task")
    assert task["status"] == "failed"
    assert task["error"] == "RuntimeError: TASK_FAIL=1: the long task fails on purpose"
    assert task["finished_at"] is not None
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "Item not found"})


def test_without_a_broker_the_post_fails_and_hands_out_no_id(serve_fresh: StartServer) -> None:
    # Port 1 on 127.0.0.1: nothing listens, so every connection is refused at once.
    api = start_api(serve_fresh, {**embedded_env(), "CELERY_BROKER_URL": "redis://127.0.0.1:1/0"})
    response = httpx.post(f"{api.url}/long_task", timeout=30)
    assert response.status_code == 500
    api.wait_for_line(lambda text: "OperationalError" in text)


def test_status_stays_fast_with_100_jobs_queued(serve_fresh: StartServer) -> None:
    # No worker: every job stays queued, one file each in the folder.
    env = embedded_env()
    api = start_api(serve_fresh, env)
    with httpx.Client(base_url=api.url) as client:
        task_ids = [client.post("/long_task").json() for _ in range(100)]
        assert len(message_files(env)) == 100

        def seconds_per_status() -> float:
            started = time.perf_counter()
            assert status_of(client, task_ids[-1]) == "queued"
            return time.perf_counter() - started

        median = statistics.median(seconds_per_status() for _ in range(20))
        waiting = client.get(f"/tasks/{task_ids[-1]}").json()
    assert (waiting["status"], waiting["finished_at"], waiting["error"]) == ("queued", None, None)
    # A few milliseconds here; the bound only catches a status that scans the queue.
    assert median < 0.05, f"GET /status took {median * 1000:.0f} ms with 100 jobs queued"


# Enough for the race in folder_transport.py: each idle worker lists the folder every 0.1 s,
# and the more of them list it, the likelier one catches a message file half written. With
# kombu's own transport this lost 1-2 jobs in 7 of 8 runs (6 workers: 6 of 8).
SIMULTANEOUS_POSTS = 200
POLLING_WORKERS = 8


def test_many_simultaneous_posts_on_the_embedded_transport_lose_no_job(
    serve_fresh: StartServer,
) -> None:
    env = {**embedded_env(), "TASK_SECONDS": "0.05"}
    with ThreadPoolExecutor(POLLING_WORKERS) as starting:
        names = [f"worker{number}" for number in range(POLLING_WORKERS)]
        workers = list(starting.map(lambda name: start_worker(serve_fresh, env, 4, name), names))
    # Celery's banner names the transport: the default, with no CELERY_BROKER_URL set.
    assert "filesystem-atomic://" in "".join(workers[0].console_lines())
    api = start_api(serve_fresh, env)
    answers = post_at_once(api.port, "/long_task", SIMULTANEOUS_POSTS)
    assert {code for code, _ in answers} == {200}
    waiting = [task_id for _, task_id in answers]
    with httpx.Client(base_url=api.url) as client:

        def all_completed() -> bool:
            waiting[:] = [
                task_id for task_id in waiting if status_of(client, task_id) != "completed"
            ]
            return not waiting

        with suppress(TimeoutError):
            wait_until(all_completed, 20, "every job to complete", interval=0.1)
    errors = [line for worker in workers for line in worker.console_lines() if "Error" in line]
    assert not waiting, f"{len(waiting)} of {SIMULTANEOUS_POSTS} jobs lost: {errors[:2]}"
    assert message_files(env) == []


def test_ctrl_c_stops_the_api_and_the_worker(serve_fresh: StartServer) -> None:
    # On Redis: the worker's warm shutdown takes 2 s there, 7 s polling the embedded folder.
    server = serve_fresh(command=[sys.executable, "-m", STAGE], env={**redis_env(), "PORT": "0"})
    server.wait_for_line(lambda text: text.endswith(WORKER_READY))
    # A terminal's Ctrl+C sends SIGINT to every process in the foreground group.
    os.killpg(server.pid, signal.SIGINT)
    # The worker first finishes what it runs (a warm shutdown), which takes a few seconds.
    wait_until(lambda: not server.is_alive() and not server.group_is_alive(), 30, "both to exit")


def test_celery_inspect_lists_the_running_job(
    stage_server: RunningServer, client: httpx.Client, queue_env: dict[str, str]
) -> None:
    since = stage_server.mark()
    task_id = client.post("/long_task").json()
    stage_server.wait_for_line(STARTING, since)
    inspect = [sys.executable, "-m", "celery", "-A", f"{STAGE}.tasks", "inspect", "active"]
    answer = subprocess.run(
        inspect, env={**os.environ, **queue_env}, capture_output=True, text=True, timeout=30
    )
    assert task_id in answer.stdout, answer.stdout + answer.stderr
