"""Stage 4: the stage-3 API with task status in a database, served by one process here.

The status API itself is proven for SQLite and PostgreSQL in test_status_contract.py; several
workers, crashes, retention and load are in test_step4_workers.py.
"""

from __future__ import annotations

import signal
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from step4_database.app import ENDING, STARTING
from tests.console_check import assert_console_matches
from tests.databases import sqlite_url
from uvicorn_harness.many_requests import post_at_once
from uvicorn_harness.server import RunningServer, StartServer, start_server, wait_until
from uvicorn_harness.stage_timing import (
    JOB_SECONDS,
    RESPONSE_BEFORE_JOB,
    StageTiming,
    assert_answered_in_a_fraction_of_the_job,
)

STAGE = "step4_database"
APP = "step4_database.app:app"
JOBS_IN_FLIGHT = 100
# Jobs that outlast any measurement here; their server is stopped with SIGKILL, not awaited.
IN_FLIGHT_JOB_SECONDS = 10.0
STATUS_QUERIES = 20


@pytest.fixture(scope="module")
def stage_server(serve: StartServer, tmp_path_factory: pytest.TempPathFactory) -> RunningServer:
    database = sqlite_url(tmp_path_factory.mktemp("step4"))
    return serve(APP, env={"TASK_SECONDS": str(JOB_SECONDS), "DATABASE_URL": database})


def task_details(server: RunningServer, task_id: str) -> dict[str, object]:
    response = server.http.get(f"/tasks/{task_id}")
    assert response.status_code == 200, response.text
    return response.json()


def test_console_shows_the_response_leaving_before_the_job_starts(
    stage_timing: StageTiming,
) -> None:
    assert stage_timing.console_order == RESPONSE_BEFORE_JOB
    assert_console_matches("step4_database", stage_timing.console)


def test_response_returns_in_a_fraction_of_the_job(stage_timing: StageTiming) -> None:
    assert_answered_in_a_fraction_of_the_job(stage_timing)


def test_task_details_give_uuid4_and_the_times_of_a_completed_job(
    stage_server: RunningServer,
) -> None:
    since = stage_server.mark()
    task_id = stage_server.http.post("/long_task").json()
    assert uuid.UUID(task_id).version == 4
    stage_server.wait_for_line(ENDING, since, timeout=JOB_SECONDS * 10)
    details = task_details(stage_server, task_id)
    assert details["id"] == task_id
    assert details["status"] == "completed"
    assert details["error"] is None
    created, started, finished = (
        datetime.fromisoformat(str(details[name]))
        for name in ("created_at", "started_at", "finished_at")
    )
    assert created.utcoffset() is not None, "times must say they are UTC"
    assert created <= started < finished
    assert (finished - started).total_seconds() >= JOB_SECONDS


def test_task_details_give_the_error_of_a_failed_job(
    serve: StartServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    database = sqlite_url(tmp_path_factory.mktemp("step4-failing"))
    server = serve(APP, env={"TASK_SECONDS": "0.1", "TASK_FAIL": "1", "DATABASE_URL": database})
    task_id = server.http.post("/long_task").json()
    wait_until(lambda: task_details(server, task_id)["status"] == "failed", 20, "job failed")
    details = task_details(server, task_id)
    assert details["error"] == "TASK_FAIL=1: the long task fails on purpose"
    assert details["finished_at"] is not None


def test_unknown_task_details_is_404(stage_server: RunningServer) -> None:
    response = stage_server.http.get(f"/tasks/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json() == {"detail": "Item not found"}


def test_status_stays_fast_with_100_jobs_in_flight(
    serve_fresh: StartServer, tmp_path: Path
) -> None:
    # Stage 3 runs jobs on the same 40 threads as its `def` endpoints, so GET /status waits
    # for a job to end. Here jobs have their own threads: the answer must not wait for any job.
    server = serve_fresh(
        APP,
        env={"TASK_SECONDS": str(IN_FLIGHT_JOB_SECONDS), "DATABASE_URL": sqlite_url(tmp_path)},
        stop_signal=signal.SIGKILL,  # SIGTERM would wait for the 100 jobs
    )
    answers = post_at_once(server.port, "/long_task", JOBS_IN_FLIGHT)
    task_ids = [task_id for _, task_id in answers]
    wait_until(
        lambda: server.console_lines().count(STARTING) == JOBS_IN_FLIGHT,
        IN_FLIGHT_JOB_SECONDS / 2,
        "all jobs started",
    )
    latencies = []
    for task_id in task_ids[:STATUS_QUERIES]:
        sent = time.monotonic()
        response = server.http.get("/status", params={"task_id": task_id})
        latencies.append(time.monotonic() - sent)
        assert response.json() == "running"
    # Every job started and none has ended (the first ends a whole job after it started).
    assert ENDING not in server.console_lines(), "a job ended: fewer than 100 were in flight"
    latencies.sort()
    median = latencies[len(latencies) // 2]
    assert median < 0.1, f"median {median:.3f}s"  # the page's claim: well under 100 ms
    # Waiting for a job would take a whole job; the slowest answer is far from that.
    assert latencies[-1] < IN_FLIGHT_JOB_SECONDS / 10, f"slowest {latencies[-1]:.3f}s"


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("DATABASE_URL", "tasks.db", "DATABASE_URL is not a database URL: 'tasks.db'"),
        ("DATABASE_URL", "mysql+nodriver://x/y", "DATABASE_URL 'mysql+nodriver://x/y'"),
        ("HEARTBEAT_SECONDS", "0", "HEARTBEAT_SECONDS must be a number greater than 0, got '0'"),
    ],
)
def test_a_bad_setting_stops_startup_with_a_clear_error(
    setting: str, value: str, message: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": sqlite_url(tmp_path), setting: value}
    with pytest.raises(RuntimeError, match="exited during startup") as failure:
        start_server(APP, env=env)
    assert message in str(failure.value)


def test_python_dash_m_serves_the_stage_with_reload(
    serve_fresh: StartServer, tmp_path: Path
) -> None:
    server = serve_fresh(
        command=[sys.executable, "-m", STAGE],
        env={"PORT": "0", "DATABASE_URL": sqlite_url(tmp_path), "TASK_SECONDS": "0.1"},
    )
    assert any("Started reloader process" in line for line in server.console_lines())
    task_id = server.http.post("/long_task").json()
    assert server.http.get("/status", params={"task_id": task_id}).status_code == 200
