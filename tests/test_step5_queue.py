"""Stage 5: the web process only enqueues; a Celery worker process runs the job.

The status API itself is proven for stage 5 (embedded and on Redis) in test_status_contract.py;
crashes are in test_step5_queue_crashes.py, restarts in test_step5_restarts.py. This module runs
stage 5 as a reader does,
`python -m step5_queue` (API and worker in one console), and checks what is stage 5's own.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

import pytest

from step5_queue.tasks import ENDING, STARTING
from tests.console_check import CELERY_LOG, assert_console_matches
from tests.step5_deployments import (
    STAGE,
    embedded,
    embedded_env,
    message_files,
    node_of,
    start_api,
    start_worker,
)
from uvicorn_harness.many_requests import post_at_once
from uvicorn_harness.server import RunningServer, StartServer, wait_until
from uvicorn_harness.stage_timing import (
    JOB_SECONDS,
    StageTiming,
    assert_answered_in_a_fraction_of_the_job,
)

WORKER_READY = " ready."
DOCS_PAGE = Path(__file__).resolve().parent.parent / "docs" / "step5_queue.md"


@pytest.fixture(scope="module")
def queue_env() -> dict[str, str]:
    return {**embedded_env(), "TASK_SECONDS": str(JOB_SECONDS), "WORKER_CONCURRENCY": "2"}


@pytest.fixture(scope="module")
def stage_server(serve: StartServer, queue_env: dict[str, str]) -> RunningServer:
    """`python -m step5_queue` with the short job; the API and its worker share one console."""
    server = serve(command=[sys.executable, "-m", STAGE], env={**queue_env, "PORT": "0"})
    server.wait_for_line(lambda text: text.endswith(WORKER_READY))
    return server


def printed_by_the_worker(line: str) -> bool:
    """The worker's lines in `python -m step5_queue`'s console: Celery's log and the job's."""
    return bool(CELERY_LOG.match(line)) or line in {STARTING, ENDING}


def status_of(api: RunningServer, task_id: str) -> str:
    return api.http.get("/status", params={"task_id": task_id}).json()


@pytest.fixture(scope="module")
def first_job_console(stage_timing: StageTiming, stage_server: RunningServer) -> list[str]:
    """What `python -m` printed for the measured job: from its request to Celery's line that
    it succeeded."""
    since = stage_timing.console_since
    stage_server.wait_for_line(lambda text: "succeeded in" in text, since)
    return stage_server.console_lines(since)


def test_the_api_answers_and_a_worker_process_runs_the_job(
    stage_timing: StageTiming, first_job_console: list[str]
) -> None:
    app_lines = [event for event in stage_timing.console_order if event != "POST 200"]
    assert app_lines == ["entering", "exiting", "starting", "ending"]
    assert "POST 200" in stage_timing.console_order
    assert any("ForkPoolWorker" in line and "succeeded" in line for line in first_job_console)


def test_response_returns_in_a_fraction_of_the_job(stage_timing: StageTiming) -> None:
    assert_answered_in_a_fraction_of_the_job(stage_timing)


def test_console_block_on_the_docs_page_is_what_python_dash_m_prints(
    first_job_console: list[str],
) -> None:
    assert_console_matches("step5_queue", first_job_console, second_process=printed_by_the_worker)


@pytest.mark.usefixtures("stage_timing")  # a job has run to its end
def test_a_finished_jobs_message_is_gone_from_the_folder(queue_env: dict[str, str]) -> None:
    assert message_files(queue_env) == []


def test_python_dash_m_starts_celery_beat_in_its_worker(stage_server: RunningServer) -> None:
    # Beat sends Celery's built-in cleanup task (daily), which deletes expired SQLite results.
    stage_server.wait_for_line(lambda text: "beat: Starting" in text)


def test_a_failed_job_reports_its_error(serve_fresh: StartServer) -> None:
    api = embedded(serve_fresh, {"TASK_SECONDS": "0.1", "TASK_FAIL": "1"})
    task_id = api.http.post("/long_task").json()
    wait_until(lambda: status_of(api, task_id) == "failed", 20, "status failed")
    task = api.http.get(f"/tasks/{task_id}").json()
    unknown = api.http.get("/tasks/not-a-task")
    assert task["status"] == "failed"
    assert task["error"] == "RuntimeError: TASK_FAIL=1: the long task fails on purpose"
    assert task["finished_at"] is not None
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "Item not found"})


def recorded_ids(env: dict[str, str]) -> list[str]:
    """Every id the embedded result store holds (Celery's database backend: one row each)."""
    with sqlite3.connect(Path(env["QUEUE_FOLDER"]) / "results.sqlite3") as connection:
        return [row[0] for row in connection.execute("SELECT task_id FROM celery_taskmeta")]


def test_without_a_broker_the_post_fails_and_leaves_no_id_behind(
    serve_fresh: StartServer,
) -> None:
    # Port 1 on 127.0.0.1: nothing listens, so every connection is refused at once.
    env = {**embedded_env(), "CELERY_BROKER_URL": "redis://127.0.0.1:1/0"}
    api = start_api(serve_fresh, env)
    response = api.http.post("/long_task", timeout=30)
    assert response.status_code == 500
    api.wait_for_line(lambda text: "OperationalError" in text)
    # The API recorded the id before it sent the job; with no job sent, it deleted the record,
    # or the id would say "queued" for a job that no worker will ever run.
    assert recorded_ids(env) == []


def seconds_per_status(api: RunningServer, task_id: str) -> float:
    started = time.perf_counter()
    assert status_of(api, task_id) == "queued"
    return time.perf_counter() - started


def test_status_stays_fast_with_100_jobs_queued(serve_fresh: StartServer) -> None:
    # No worker: every job stays queued, one file each in the folder. Two APIs, one with 1 job
    # queued and one with 100, asked in turn (each first half the time), so the machine's noise
    # falls on both alike.
    envs = [embedded_env(), embedded_env()]
    with ThreadPoolExecutor(2) as starting:
        apis = list(starting.map(lambda env: start_api(serve_fresh, env), envs))
    seconds: list[list[float]] = [[], []]
    one, hundred = apis
    one_id = one.http.post("/long_task").json()
    hundred_ids = [hundred.http.post("/long_task").json() for _ in range(100)]
    assert [len(message_files(env)) for env in envs] == [1, 100]
    asks = [(one, one_id), (hundred, hundred_ids[-1])]
    for turn in range(40):
        for which in (0, 1) if turn % 2 else (1, 0):
            seconds[which].append(seconds_per_status(*asks[which]))
    waiting = hundred.http.get(f"/tasks/{hundred_ids[-1]}").json()
    assert (waiting["status"], waiting["finished_at"], waiting["error"]) == ("queued", None, None)
    with_one, with_hundred = (statistics.median(times) for times in seconds)
    # The same within noise (a status is one read by id); a status that went through the
    # queued jobs would take longer the more there are.
    assert with_hundred < 3 * with_one, (
        f"GET /status: {with_hundred * 1000:.1f} ms with 100 jobs queued, "
        f"{with_one * 1000:.1f} ms with 1"
    )


# Enough for the race in folder_transport.py: each idle worker lists the folder every 0.1 s,
# and the more of them list it, the likelier one catches a message file half written. With
# kombu's own transport (CELERY_BROKER_URL=filesystem://) this loses 1-2 jobs in most runs.
SIMULTANEOUS_POSTS = 200
POLLING_WORKERS = 4


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

    def all_completed() -> bool:
        waiting[:] = [task_id for task_id in waiting if status_of(api, task_id) != "completed"]
        return not waiting

    with suppress(TimeoutError):
        wait_until(all_completed, 20, "every job to complete", interval=0.1)
    errors = [line for worker in workers for line in worker.console_lines() if "Error" in line]
    assert not waiting, f"{len(waiting)} of {SIMULTANEOUS_POSTS} jobs lost: {errors[:2]}"
    assert message_files(env) == []


# With no job running, API and worker are gone this many seconds after the signal (the page
# says so). Measured here: 2.6-3.8 s on a busy machine; the rest is margin.
STOP_BOUND_SECONDS = 10.0
STOP_BOUND_ON_PAGE = re.compile(r"both are gone within (\d+) s")


def test_ctrl_c_stops_the_api_and_the_worker(serve_fresh: StartServer) -> None:
    server = serve_fresh(command=[sys.executable, "-m", STAGE], env={**embedded_env(), "PORT": "0"})
    server.wait_for_line(lambda text: text.endswith(WORKER_READY))
    # A terminal's Ctrl+C sends SIGINT to every process in the foreground group.
    os.killpg(server.pid, signal.SIGINT)
    wait_until(
        lambda: not server.is_alive() and not server.group_is_alive(),
        STOP_BOUND_SECONDS,
        "both to exit",
    )


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT", "SIGHUP"])
def test_a_signal_to_the_pid_stops_the_api_and_the_worker(
    signal_name: str, serve_fresh: StartServer
) -> None:
    # `kill PID`, systemd and `docker stop` send SIGTERM to the one process; a closed terminal
    # sends SIGHUP. Before, SIGTERM and SIGHUP left the worker running, adopted by PID 1.
    server = serve_fresh(command=[sys.executable, "-m", STAGE], env={**embedded_env(), "PORT": "0"})
    server.wait_for_line(lambda text: text.endswith(WORKER_READY))
    os.kill(server.pid, getattr(signal, signal_name))
    # The worker is in the API's process group: the group is empty once both have exited.
    wait_until(
        lambda: not server.is_alive() and not server.group_is_alive(),
        STOP_BOUND_SECONDS,
        "the API and the worker to exit",
    )
    on_page = STOP_BOUND_ON_PAGE.search(DOCS_PAGE.read_text())
    assert on_page is not None and float(on_page[1]) == STOP_BOUND_SECONDS


def test_celery_inspect_lists_the_running_job(serve_fresh: StartServer) -> None:
    # A job far longer than the test: it is still running when the worker answers (and the
    # worker is stopped with SIGKILL, so nobody waits for it).
    env = {**embedded_env(), "TASK_SECONDS": "600"}
    worker = start_worker(serve_fresh, env)
    api = start_api(serve_fresh, env)
    task_id = api.http.post("/long_task").json()
    worker.wait_for_line(STARTING)
    # Named, the worker's answer ends the wait; --timeout gives a busy machine 10 s to answer
    # (the default is 1 s).
    inspect = [sys.executable, "-m", "celery", "-A", f"{STAGE}.tasks", "inspect", "active"]
    inspect += ["--destination", node_of(worker), "--timeout", "10"]
    answer = subprocess.run(
        inspect, env={**os.environ, **env}, capture_output=True, text=True, timeout=30
    )
    assert task_id in answer.stdout, answer.stdout + answer.stderr
