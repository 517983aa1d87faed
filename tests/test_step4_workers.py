"""Stage 4 across processes: several workers, a killed worker, a restart, retention and load.

Every server here shares one real database with others (SQLite file or PostgreSQL schema), the
way `--workers 4` or two machines behind a proxy would. Heartbeats are shortened through the
documented HEARTBEAT_SECONDS setting so a lease runs out in well under a second.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from bench.step4_bounded import PAGE_TABLE, measure, read_table
from step4_database.app import INTERRUPTED, STARTING
from step4_database.store import INTERRUPTED as INTERRUPTED_ERROR
from tests.conftest import StartServer
from tests.console_check import assert_console_matches
from tests.databases import sqlite_url, task_rows
from tests.many_requests import post_at_once
from tests.server import RunningServer, wait_until

APP = "step4_database.app:app"
HEARTBEAT_SECONDS = 0.2
LEASE_SECONDS = 3 * HEARTBEAT_SECONDS  # the app's rule: three missed heartbeats
WORKERS = 4
LOAD = 500


def serve_stage4(
    serve: StartServer, database_url: str, task_seconds: float, **settings: str
) -> RunningServer:
    env = {
        "DATABASE_URL": database_url,
        "TASK_SECONDS": str(task_seconds),
        "HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
        **settings,
    }
    return serve(APP, env=env)


# No keep-alive: every request opens a fresh connection, which any worker may accept.
FRESH_CONNECTIONS = httpx.Limits(max_keepalive_connections=0)


def status_of(
    server: RunningServer, task_id: str, client: httpx.Client | None = None
) -> str | None:
    """The status over a fresh connection (so any worker may answer), None for a 404."""
    if client is None:
        with httpx.Client(limits=FRESH_CONNECTIONS) as client:
            return status_of(server, task_id, client)
    response = client.get(f"{server.url}/status", params={"task_id": task_id})
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return response.json()


def details_of(server: RunningServer, task_id: str) -> dict[str, object]:
    response = httpx.get(f"{server.url}/tasks/{task_id}")
    assert response.status_code == 200, response.text
    return response.json()


def start_job(server: RunningServer) -> str:
    response = httpx.post(f"{server.url}/long_task")
    assert response.status_code == 200
    return response.json()


# --- four workers, one database: lookups and load -------------------------------------------


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    # SQLite: the harder case for four writing processes. PostgreSQL runs the contract module.
    return sqlite_url(tmp_path_factory.mktemp("step4-workers"))


@pytest.fixture(scope="module")
def workers_server(serve: StartServer, database_url: str) -> RunningServer:
    env = {"DATABASE_URL": database_url, "TASK_SECONDS": "0.5"}
    return serve(APP, args=["--workers", str(WORKERS)], env=env, ready_count=WORKERS)


@pytest.fixture(scope="module")
def load_ids(workers_server: RunningServer) -> list[str]:
    """LOAD simultaneous POSTs, each on its own connection, so the kernel spreads them."""
    answers = post_at_once(workers_server.port, "/long_task", LOAD)
    assert [code for code, _ in answers] == [200] * LOAD
    return [task_id for _, task_id in answers]


def test_every_worker_answers_for_every_id_at_once(
    workers_server: RunningServer, load_ids: list[str]
) -> None:
    # A fresh connection per lookup: whichever worker accepts it must know the id.
    with httpx.Client(limits=FRESH_CONNECTIONS) as client:
        statuses = Counter(status_of(workers_server, task_id, client) for task_id in load_ids)
    assert statuses[None] == 0, f"{statuses[None]} ids unknown to the worker asked"
    assert set(statuses) <= {"running", "completed"}


def test_500_simultaneous_posts_give_500_completed_rows(
    workers_server: RunningServer, load_ids: list[str], database_url: str
) -> None:
    def all_completed() -> bool:
        rows = task_rows(database_url)
        return len(rows) == LOAD and all(row.status == "completed" for row in rows)

    wait_until(all_completed, 60, "every task completed", interval=0.2)
    rows = task_rows(database_url)
    assert sorted(row.id for row in rows) == sorted(load_ids)  # none lost, none duplicated
    assert len(set(load_ids)) == LOAD
    owners = Counter(row.owner for row in rows)
    assert len(owners) > 1, f"one worker took every request: {owners}"


# --- killed and restarted workers -------------------------------------------------------------


def test_a_killed_job_is_reported_failed_after_restart_and_finished_ones_survive(
    serve_fresh: StartServer, tmp_path: Path
) -> None:
    database = sqlite_url(tmp_path)
    first = serve_stage4(serve_fresh, database, task_seconds=0.1)
    finished = [start_job(first) for _ in range(3)]
    wait_until(lambda: all(status_of(first, t) == "completed" for t in finished), 20)
    before = {task_id: details_of(first, task_id) for task_id in finished}
    first.stop()  # a graceful restart

    # A longer lease here, so the restart below comes before it runs out, as it would with the
    # default 15 s: the restarted server first reports "running", then "failed".
    crashing = serve_stage4(serve_fresh, database, task_seconds=60, HEARTBEAT_SECONDS="1")
    since = crashing.mark()
    killed = start_job(crashing)
    crashing.wait_for_line(STARTING, since)
    crashing.stop(signal.SIGKILL)  # kill -9: no shutdown code runs
    killed_at = time.monotonic()
    assert {row.id: row.status for row in task_rows(database)}[killed] == "running"

    restarted = serve_stage4(serve_fresh, database, task_seconds=0.1)
    assert status_of(restarted, killed) == "running"
    wait_until(lambda: status_of(restarted, killed) == "failed", 10, "killed job failed")
    reported_after = time.monotonic() - killed_at
    assert {task_id: details_of(restarted, task_id) for task_id in finished} == before
    details = details_of(restarted, killed)
    assert details["error"] == INTERRUPTED_ERROR
    assert details["started_at"] is not None
    restarted.wait_for_line(f"{INTERRUPTED}: {killed}")
    assert_console_matches("step4_database_restart", restarted.console_lines())
    # Bounded: a lease plus a heartbeat, plus the restart itself (a second or two).
    assert reported_after < 3 * 1 + HEARTBEAT_SECONDS + 8


def test_a_sibling_keeps_its_live_job_and_reports_it_failed_once_killed(
    serve_fresh: StartServer, tmp_path: Path
) -> None:
    database = sqlite_url(tmp_path)
    sibling = serve_stage4(serve_fresh, database, task_seconds=0.1)
    runner = serve_stage4(serve_fresh, database, task_seconds=2)
    since = runner.mark()
    live = start_job(runner)
    # The sibling checks for dead owners every heartbeat; the job outlives several leases.
    started = time.monotonic()
    seen: list[str | None] = []

    def job_left_running() -> bool:
        seen.append(status_of(sibling, live))
        return seen[-1] != "running"

    wait_until(job_left_running, 20, "live job finished")
    assert seen[-1] == "completed", Counter(seen)
    assert time.monotonic() - started > 3 * LEASE_SECONDS
    assert len(seen) > 10

    since = runner.mark()
    killed = start_job(runner)
    runner.wait_for_line(STARTING, since)
    runner.stop(signal.SIGKILL)
    killed_at = time.monotonic()
    wait_until(lambda: status_of(sibling, killed) == "failed", 10, "killed job failed")
    assert time.monotonic() - killed_at < LEASE_SECONDS + 2 * HEARTBEAT_SECONDS + 2
    assert details_of(sibling, killed)["error"] == INTERRUPTED_ERROR


# --- retention ---------------------------------------------------------------------------------


def test_finished_tasks_are_deleted_after_the_retention_and_running_ones_never(
    serve_fresh: StartServer, tmp_path: Path
) -> None:
    retention = 0.5
    server = serve_stage4(
        serve_fresh, sqlite_url(tmp_path), task_seconds=1.5, TASK_RETENTION_SECONDS=str(retention)
    )
    first = start_job(server)
    wait_until(lambda: status_of(server, first) == "completed", 10, "first job completed")
    second = start_job(server)
    second_posted = time.monotonic()
    wait_until(lambda: status_of(server, first) is None, 5, "first task deleted")
    # Older than the retention and a heartbeat more, yet running: it must still be there.
    wait_until(lambda: time.monotonic() - second_posted > retention + 2 * HEARTBEAT_SECONDS, 5)
    assert status_of(server, second) == "running"
    wait_until(lambda: status_of(server, second) == "completed", 10, "second job completed")
    wait_until(lambda: status_of(server, second) is None, 5, "second task deleted")


# --- bounded: the table and the file stop growing --------------------------------------------


def test_retention_keeps_the_table_and_the_file_from_growing(tmp_path: Path) -> None:
    # The page's benchmark (bench/step4_bounded.py, 100,000 tasks) at a test's size.
    every = 400
    samples = list(measure(3 * every, every, retention=0.4, heartbeat=0.1, directory=tmp_path))
    assert [sample.tasks for sample in samples] == [every, 2 * every, 3 * every]
    assert all(sample.rows < every for sample in samples[1:]), "retention did not delete"
    # Deleted rows leave free pages that new rows reuse. Without retention, 1,200 rows took 3.7
    # times the file of the first 400 (one run); with it the file stays near its first size.
    assert samples[-1].database_bytes <= 1.5 * samples[0].database_bytes, samples


def test_the_pages_bounded_table_shows_what_the_page_says() -> None:
    samples = read_table(PAGE_TABLE.read_text(encoding="utf-8"))
    assert [sample.tasks for sample in samples] == [10_000 * n for n in range(1, 11)]
    # "never more than a quarter of the 10,000 tasks that finish between two samples"
    assert all(sample.rows < 2_500 for sample in samples)
    # "tasks.db stays under 1 MiB" and "the WAL stays at its high-water mark"
    assert all(sample.database_bytes < 2**20 for sample in samples)
    assert samples[-1].wal_bytes == max(sample.wal_bytes for sample in samples)
    # "memory grows by less than 10 MiB over the 100,000 tasks, and more slowly as it goes"
    rss = [sample.rss_bytes for sample in samples]
    assert rss[-1] - rss[0] < 10 * 2**20
    assert rss[-1] - rss[4] < rss[4] - rss[0]
