"""Pitfalls of what becomes of a job: failures no client sees (6), a task the endpoint's error
drops (7), a dict that only grows (8), ids that leak the machine (9), a database session the job
holds (11).

Each proven against a real uvicorn server; docs/pitfalls.md explains them. Each test records
the figures it measured (tests/pitfall_figures.py), and fails when the page's figure disagrees
with this run's.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from pitfalls import dependency_session, failures, raise_after_add_task
from pitfalls.measure_memory import as_markdown, measure
from pitfalls.uuid1_leak import created_at, hardware_address
from step3_status import app as stage3
from tests.console_check import assert_console_matches
from tests.pitfall_figures import record_figure
from tests.pitfall_timing import FAST_SHARE, SLOW, seconds_for, wait_for_count
from uvicorn_harness.many_requests import post_at_once
from uvicorn_harness.server import RunningServer, StartServer

# --- 6. Failures are invisible to the client --------------------------------------------------


def test_stage2_failure_reaches_only_the_server_log(serve: StartServer) -> None:
    server = serve("step2_background.app:app", env={"TASK_SECONDS": "0", "TASK_FAIL": "1"})
    since = server.mark()
    response = server.http.post("/long_task")
    assert response.status_code == 200
    assert response.json() == {"status": "long task started"}
    server.wait_for_line("RuntimeError: TASK_FAIL=1: the long task fails on purpose", since)
    assert_console_matches("pitfall6_stage2_failure", server.console_lines(since))


def test_stage3_reports_failed_only_because_its_job_catches(serve: StartServer) -> None:
    server = serve("step3_status.app:app", env={"TASK_SECONDS": "0", "TASK_FAIL": "1"})
    task_id = server.http.post("/long_task").raise_for_status().json()
    server.wait_for_line(lambda line: line.startswith(stage3.FAILED))
    assert server.http.get("/status", params={"task_id": task_id}).json() == "failed"


@pytest.fixture(scope="module")
def failures_server(serve: StartServer) -> RunningServer:
    return serve("pitfalls.failures:app")


def test_without_the_catch_a_failed_job_stays_running_forever(
    failures_server: RunningServer,
) -> None:
    task_id = failures_server.http.post("/long_task").raise_for_status().json()
    # The traceback is logged when the exception leaves the app: the job is over by then.
    failures_server.wait_for_line("RuntimeError: the long task fails")
    status = failures_server.http.get("/status", params={"task_id": task_id})
    assert status.json() == "running"


def test_tasks_added_after_a_failing_task_never_run(failures_server: RunningServer) -> None:
    since = failures_server.mark()
    assert failures_server.http.post("/two_tasks").status_code == 200
    failures_server.wait_for_line("RuntimeError: the first task fails", since)
    lines = failures_server.console_lines(since)
    assert failures.FIRST in lines
    assert failures.SECOND not in lines


# --- 7. An endpoint that raises after add_task never runs the task ----------------------------


def test_a_task_added_before_the_endpoint_raises_never_runs(serve: StartServer) -> None:
    server = serve("pitfalls.raise_after_add_task:app")
    since = server.mark()
    failed = server.http.post("/orders", params={"order": "first", "fail": True})
    assert failed.status_code == 500
    succeeded = server.http.post("/orders", params={"order": "second"})
    assert succeeded.status_code == 200
    # The second order's task ran after its response; the first one's would have run after its
    # own, earlier response, so by now its line would be there.
    server.wait_for_line(f"{raise_after_add_task.SENDING} second", since)
    assert f"{raise_after_add_task.SENDING} first" not in server.console_lines(since)


# --- 8. The dict grows without bound ----------------------------------------------------------


@pytest.fixture(scope="module")
def quick_stage3(serve: StartServer) -> RunningServer:
    return serve("step3_status.app:app", env={"TASK_SECONDS": "0"})


def test_every_finished_task_stays_in_the_dict(quick_stage3: RunningServer) -> None:
    since = quick_stage3.mark()
    client = quick_stage3.http
    ids = [client.post("/long_task").raise_for_status().json() for _ in range(100)]
    wait_for_count(quick_stage3, stage3.ENDING, 100, since)
    statuses = [client.get("/status", params={"task_id": i}).json() for i in ids]
    assert statuses == ["completed"] * 100  # nothing ever removes a finished task


def test_memory_script_measures_growth_and_renders_the_table() -> None:
    # The page's figure comes from `python -m pitfalls.measure_memory --write` (10,000 tasks a
    # round); this only checks the script works end to end, on a small round.
    figures = measure(tasks_per_round=200, rounds=1, warmup=100)
    assert len(figures.rss_bytes) == 2
    assert all(rss > 10 * 1024 * 1024 for rss in figures.rss_bytes)  # a real server's RSS
    assert "MiB per 10,000 finished tasks" in as_markdown(figures)


# --- 9. uuid1 ids leak the machine and the time -----------------------------------------------

# The least significant bit of a MAC address's first byte: set only in group addresses, which no
# network card has as its own (RFC 4122, section 4.5).
MULTICAST_BIT = 1 << 40


def test_a_stage3_id_gives_away_this_machine_and_the_time(quick_stage3: RunningServer) -> None:
    first, second = (
        uuid.UUID(quick_stage3.http.post("/long_task").raise_for_status().json()) for _ in range(2)
    )
    assert first.version == 1
    this_machine = uuid.getnode()
    if this_machine & MULTICAST_BIT:
        # No interface with a hardware address here (a loopback-only network namespace):
        # Python then makes up a random node, with the multicast bit set so that it can be no
        # real card's (uuid._random_getnode), and each process its own. The id still gives
        # away the process that made it, and its time, but not this machine.
        assert first.node & MULTICAST_BIT, f"{hardware_address(first)} is not a made-up node"
        assert first.node != this_machine, "each process makes up a node of its own"
    else:
        # The server runs on this machine, so its node is this machine's hardware address.
        assert first.node == this_machine
        assert int(hardware_address(first).replace(":", ""), 16) == this_machine
    assert abs(created_at(first) - datetime.now(UTC)) < timedelta(minutes=1)
    # Guessable: the next id has the same node and a time a few microseconds later. Its clock
    # sequence (14 bits) is the same only if the same thread made it: libuuid, which uuid1()
    # calls, keeps one per thread (gen_uuid.c, THREAD_LOCAL), and FastAPI serves each request
    # on any of the thread pool's threads.
    assert second.node == first.node
    assert timedelta(0) < created_at(second) - created_at(first) < timedelta(seconds=1)


# --- 11. A session from a `yield` dependency, used in a background task ----------------------

POOL_SIZE = 2  # pitfall 11: connections in the app's pool (no overflow)
SESSION_JOB = 1.5  # long enough that the third request's wait stands out from a fast one


@pytest.fixture(scope="module")
def session_server(serve: StartServer, tmp_path_factory: pytest.TempPathFactory) -> RunningServer:
    database = tmp_path_factory.mktemp("pitfall11") / "jobs.db"
    env = {"PITFALL_DB": str(database), "POOL_SIZE": str(POOL_SIZE)}
    return serve("pitfalls.dependency_session:app", env={**env, "TASK_SECONDS": str(SESSION_JOB)})


def start_jobs(server: RunningServer, route: str, count: int) -> list[int]:
    """POST `count` jobs at once; return their ids once every one of them has started."""
    since = server.mark()
    answers = post_at_once(server.port, route, count)
    assert [code for code, _ in answers] == [200] * count, answers
    wait_for_count(server, dependency_session.STARTING, count, since)
    return [job_id for _, job_id in answers]


def wait_for_jobs_to_end(server: RunningServer, count: int, since: int) -> None:
    wait_for_count(server, dependency_session.ENDING, count, since)


def test_a_yield_session_holds_its_connection_for_the_whole_task(
    request: pytest.FixtureRequest, session_server: RunningServer
) -> None:
    since = session_server.mark()
    start_jobs(session_server, "/jobs", POOL_SIZE)  # every pooled connection now sits in a job
    client = session_server.http
    next_post = seconds_for(lambda: client.post("/jobs", timeout=30).raise_for_status())
    wait_for_jobs_to_end(session_server, POOL_SIZE + 1, since)
    # It waited for a job to give its connection back: most of a job, never "at once".
    assert next_post > SESSION_JOB / 2
    label = f"default scope, {POOL_SIZE} jobs of {SESSION_JOB:g} s running: the next POST took"
    record_figure(request, "p11_default_scope_next_post", label, next_post, SESSION_JOB * SLOW)


def test_a_function_scope_session_is_closed_when_the_task_uses_it(
    session_server: RunningServer,
) -> None:
    since = session_server.mark()
    job_id = session_server.http.post("/jobs_function_scope").raise_for_status().json()
    session_server.wait_for_line(
        lambda line: "DetachedInstanceError" in line and "is not bound to a Session" in line,
        since,
    )
    assert dependency_session.STARTING not in "\n".join(session_server.console_lines(since))
    status = session_server.http.get(f"/jobs/{job_id}").raise_for_status().json()
    assert status == "running"  # the task died before it could write


def test_a_task_with_its_own_session_leaves_requests_fast(
    request: pytest.FixtureRequest, session_server: RunningServer
) -> None:
    since = session_server.mark()
    ids = start_jobs(session_server, "/jobs_own_session", POOL_SIZE + 1)
    client = session_server.http
    read = seconds_for(lambda: client.get(f"/jobs/{ids[0]}", timeout=30).raise_for_status())
    wait_for_jobs_to_end(session_server, POOL_SIZE + 1, since)
    statuses = [session_server.http.get(f"/jobs/{i}").json() for i in ids]
    assert statuses == ["completed"] * (POOL_SIZE + 1)
    # The default scope's request waits for a job (over half of it, above); this one does not.
    assert read < SESSION_JOB / 2
    label = f"fix, {POOL_SIZE + 1} jobs of {SESSION_JOB:g} s running: GET /jobs/ID took"
    record_figure(request, "p11_own_session_read", label, read, FAST_SHARE * SESSION_JOB)
