"""Stage 5 under crashes: what happens to a job when the process running it is killed.

Every worker here is a real `celery worker` subprocess, and every kill is a real SIGKILL.
A job is acknowledged only when it has finished (task_acks_late), so whether a killed job runs
again depends on who still holds its message: the worker's main process (a pool child was
killed), Redis (the whole worker was killed), or nobody (the whole worker, embedded transport).
"""

from __future__ import annotations

import re
import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
import redis

from step5_queue.effects import effects_in
from step5_queue.tasks import ALREADY_DONE, CRASHING, ENDING, STARTING
from tests import crash_table
from tests.console_check import assert_console_matches
from tests.step5_deployments import (
    BROKER_ENVS,
    STAGE,
    embedded_env,
    message_files,
    post_job,
    redis_env,
    start_api,
    start_worker,
    status_of,
)
from uvicorn_harness.server import ConsoleLine, RunningServer, StartServer, wait_until

KILLED_JOB_SECONDS = 1.5  # long enough that the kill lands mid-job on a busy machine
# Longer than the killed job; short, so the test waits only seconds for the handover.
SHORT_VISIBILITY_SECONDS = 2.0
# Redis is swept for overdue jobs every second (unacked_restore_interval in tasks.py).
SWEEP_SECONDS = 1.0
# When the job may start again after its first start, in seconds: not before the visibility
# timeout (less a little: a line's time is when this test read it), and at most one sweep and
# a margin for a busy machine after it. The docs page states these two numbers.
REDELIVERED_AFTER = (SHORT_VISIBILITY_SECONDS - 0.25, SHORT_VISIBILITY_SECONDS + SWEEP_SECONDS + 2)
SUCCEEDED = re.compile(r"very_long_task\[([0-9a-f-]{36})\] succeeded")
DOCS_PAGE = Path(__file__).resolve().parent.parent / "docs" / "step5_queue.md"
DUPLICATE_RUNS_ON_PAGE = re.compile(r"ran the job \*\*(\d+) times\*\*")

# A job whose pool process was killed starts again within this many seconds of the kill.
POOL_RESTART_WITHIN = 8.0
# ...and when every pool process was killed, it has completed within this many.
EVERY_POOL_BACK_WITHIN = 20.0
# When a job whose whole worker died starts again on the next worker, in seconds after its first
# start. Redis: once the visibility timeout has passed (above). RabbitMQ: as soon as it sees the
# dead worker's connection close (a kill -9 closes its socket at once), with no timeout to wait
# out; the upper bound is the job's first run plus a margin for a busy machine.
REDELIVERY_WINDOWS = {"redis": REDELIVERED_AFTER, "rabbitmq": (0.0, 2.5)}
HANDED_OVER = {
    "redis": "runs again on the other worker after the visibility timeout (2 s here, 1 h by "
    "default)",
    "rabbitmq": "runs again on the other worker at once",
}
# Stage 6 (stage 5 plus progress and cancel) must keep stage 5's guarantees. Its own module
# kills a pool process mid-progress and reads the stream; here, its whole worker dies.
STAGE6 = "step6_progress"


def pool_children(worker: RunningServer) -> list[psutil.Process]:
    """The worker's pool processes: the children of its main process that run the jobs."""
    return psutil.Process(worker.pid).children()


def first_start(workers: list[RunningServer]) -> tuple[RunningServer, ConsoleLine] | None:
    """The worker that started a job, and its line, once one has."""
    for worker in workers:
        for line in worker.lines:
            if line.text == STARTING:
                return worker, line
    return None


@pytest.mark.parametrize("broker", BROKER_ENVS)
def test_killing_the_pool_process_mid_job_runs_the_job_again(
    broker: str, request: pytest.FixtureRequest, serve_fresh: StartServer
) -> None:
    env = {**BROKER_ENVS[broker](), "TASK_SECONDS": str(KILLED_JOB_SECONDS)}
    worker = start_worker(serve_fresh, env)
    api = start_api(serve_fresh, env)
    since = worker.mark()
    task_id = post_job(api)
    worker.wait_for_line(STARTING, since)
    [child] = pool_children(worker)
    child.kill()
    killed_at = time.monotonic()

    # The main process saw its child die, and (task_reject_on_worker_lost) put the job back.
    wait_until(lambda: status_of(api, task_id) == "completed", 20, "the job to complete")
    # The result can reach the API before the job's last line reaches this test's console.
    worker.wait_for_line(ENDING, since)
    restarted = [line for line in worker.lines[since:] if line.text == STARTING][-1]
    # worker_lost_wait is 1 s here; Celery's default of 10 s would fail this (3.6-4 s measured
    # with other test runs sharing the 2 cores).
    console = worker.console_lines(since)
    assert console.count(STARTING) == 2
    assert console.count(ENDING) == 1
    assert any("WorkerLostError" in line for line in console)
    assert child.pid not in {process.pid for process in pool_children(worker)}
    outcome, measures = "runs again", "kill → 2nd start"
    seconds = restarted.at - killed_at
    cell = crash_table.Cell("pool", broker, outcome, seconds, measures, POOL_RESTART_WITHIN)
    crash_table.check(request, cell)


@pytest.mark.parametrize("broker", BROKER_ENVS)
def test_a_job_killed_after_its_effect_runs_again_and_its_effect_happens_once(
    broker: str, request: pytest.FixtureRequest, serve_fresh: StartServer
) -> None:
    # TASK_CRASH=after_effect: the pool process kills itself right after the job recorded its
    # effect, before Celery stores the result and acknowledges the job. The job goes back to
    # the queue (task_reject_on_worker_lost) and runs again, from the start.
    env = {**BROKER_ENVS[broker](), "TASK_SECONDS": "0.2", "TASK_CRASH": "after_effect"}
    worker = start_worker(serve_fresh, env)
    [first_process] = pool_children(worker)
    api = start_api(serve_fresh, env)
    since = worker.mark()
    task_id = post_job(api)
    crashed = worker.wait_for_line(lambda text: text.startswith(CRASHING), since)
    wait_until(lambda: status_of(api, task_id) == "completed", 20, "the job to complete")
    skipped = worker.wait_for_line(ALREADY_DONE, since)

    console = worker.console_lines(since)
    assert console.count(STARTING) == 2  # the job ran twice...
    assert console.count(ALREADY_DONE) == 1  # ...the second run found the first one's effect
    assert console.count(ENDING) == 0
    assert not first_process.is_running()
    # One effect, the first run's: the second neither repeated nor overwrote it.
    effects = effects_in(worker_result_backend(env), env.get("CELERY_KEY_PREFIX", ""), 600)
    effect = effects.recorded(task_id)
    assert effect is not None and effect["pid"] == first_process.pid
    if broker == "embedded":
        assert_console_matches("step5_effect_once", console)
    outcome, measures = "runs again, its effect once", "crash → 2nd run"
    seconds = skipped.at - crashed.at
    cell = crash_table.Cell("effect", broker, outcome, seconds, measures, POOL_RESTART_WITHIN)
    crash_table.check(request, cell)


def worker_result_backend(env: dict[str, str]) -> str:
    """The result store the worker uses: the embedded default is the SQLite file in its folder."""
    if "CELERY_RESULT_BACKEND" in env:
        return env["CELERY_RESULT_BACKEND"]
    return f"db+sqlite:///{Path(env['QUEUE_FOLDER']) / 'results.sqlite3'}"


@pytest.mark.parametrize("broker", BROKER_ENVS)
def test_killing_every_pool_process_mid_job_runs_that_job_and_the_next(
    broker: str, request: pytest.FixtureRequest, serve_fresh: StartServer
) -> None:
    # Two processes: one runs the job, the other waits for one. On billiard's threaded pool,
    # which kombu's own folder transport got, the waiting one held the jobs' pipe lock, and
    # killing it stopped every job for good (see embedded_queue/folder_transport.py).
    env = {**BROKER_ENVS[broker](), "TASK_SECONDS": str(KILLED_JOB_SECONDS)}
    worker = start_worker(serve_fresh, env, concurrency=2)
    api = start_api(serve_fresh, env)
    killed_id = post_job(api)
    worker.wait_for_line(STARTING)
    children = pool_children(worker)
    assert len(children) == 2
    for child in children:
        child.kill()
    killed_at = time.monotonic()

    wait_until(lambda: status_of(api, killed_id) == "completed", EVERY_POOL_BACK_WITHIN, "it")
    completed_after = time.monotonic() - killed_at
    next_id = post_job(api)
    wait_until(lambda: status_of(api, next_id) == "completed", 20, "the next job")
    wait_until(lambda: worker.console_lines().count(ENDING) >= 2, 5, "both jobs' last lines")
    assert worker.console_lines().count(ENDING) == 2
    outcome, measures = "it and the next job complete", "kill → completed"
    bound = EVERY_POOL_BACK_WITHIN
    cell = crash_table.Cell("every_pool", broker, outcome, completed_after, measures, bound)
    crash_table.check(request, cell)


@pytest.mark.parametrize("broker", REDELIVERY_WINDOWS)
def test_killing_the_whole_worker_hands_the_job_to_the_next_worker(
    broker: str, request: pytest.FixtureRequest, serve_fresh: StartServer
) -> None:
    env = {
        **BROKER_ENVS[broker](),
        "TASK_SECONDS": str(KILLED_JOB_SECONDS),
        "CELERY_VISIBILITY_TIMEOUT": str(SHORT_VISIBILITY_SECONDS),
    }
    # Both workers wait before the job is sent, so the handover measures the broker, not a
    # worker's startup. The one that takes the job is killed; the other, idle all along, cannot
    # take it early: the broker holds it as delivered and unacknowledged.
    with ThreadPoolExecutor(2) as starting:
        workers = list(starting.map(lambda name: start_worker(serve_fresh, env, name=name), "ab"))
    api = start_api(serve_fresh, env)
    task_id = post_job(api)
    doomed, started = wait_until(lambda: first_start(workers), 30, "a worker to start the job")
    doomed.stop(signal.SIGKILL)
    assert status_of(api, task_id) == "running"

    [successor] = [worker for worker in workers if worker is not doomed]
    earliest, latest = REDELIVERY_WINDOWS[broker]
    restarted = successor.wait_for_line(STARTING, timeout=latest * 2)
    successor.wait_for_line(ENDING)
    assert status_of(api, task_id) == "completed"
    assert earliest <= restarted.at - started.at
    assert successor.console_lines().count(STARTING) == 1
    seconds, measures = restarted.at - started.at, "1st → 2nd start"
    cell = crash_table.Cell("worker", broker, HANDED_OVER[broker], seconds, measures, latest)
    crash_table.check(request, cell)


# The embedded transport's leases, short so the test waits seconds: renewed every 0.5 s, the
# job is reported failed once 3 renewals are missed, at the next look (every 0.5 s).
HEARTBEAT_SECONDS = 0.5
# After the next worker is ready, the job is "failed" within 3 beats and one look (2 s), plus a
# margin for a busy machine; the page states the bound for the default of 5 s: 20 s.
FAILED_WITHIN = 4 * HEARTBEAT_SECONDS + 2
FAILED_BOUND_ON_PAGE = re.compile(r"reported\s+`\"failed\"`\s+within\s+(\d+) s")


@pytest.mark.parametrize("stage", [STAGE, STAGE6])
def test_killing_the_whole_worker_on_the_embedded_transport_reports_its_job_interrupted(
    stage: str, request: pytest.FixtureRequest, serve_fresh: StartServer
) -> None:
    env = {
        **embedded_env(),
        "TASK_SECONDS": str(KILLED_JOB_SECONDS),
        "HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
    }
    doomed = start_worker(serve_fresh, env, name="doomed", stage=stage)
    api = start_api(serve_fresh, env, stage)
    running_id = post_job(api)
    doomed.wait_for_line(STARTING)
    waiting_id = post_job(api)
    # The running job's message left the folder when the worker took it; the waiting one's
    # is still a file.
    wait_until(lambda: len(message_files(env)) == 1, 5, "one message file")
    doomed.stop(signal.SIGKILL)

    successor = start_worker(serve_fresh, env, name="successor", stage=stage)
    ready = time.monotonic()
    wait_until(lambda: status_of(api, waiting_id) == "completed", 20, "the waiting job")
    # The job that was running existed only in the killed process: nothing can run it again,
    # but its lease ran out, and the successor says so instead of "running" for ever.
    wait_until(lambda: status_of(api, running_id) == "failed", FAILED_WITHIN, "status failed")
    failed_after = time.monotonic() - ready
    error = api.http.get(f"/tasks/{running_id}").json()["error"]
    assert error.startswith("Interrupted: interrupted: worker doomed-"), error
    assert re.search(r"\(pid \d+\) stopped renewing", error), error
    assert message_files(env) == []
    assert successor.console_lines().count(STARTING) == 1
    assert list((Path(env["QUEUE_FOLDER"]) / "leases").iterdir()) == []
    bound_on_page = FAILED_BOUND_ON_PAGE.search(DOCS_PAGE.read_text())
    assert bound_on_page is not None and int(bound_on_page[1]) == 4 * 5
    outcome = (
        f'`"failed"` (interrupted): its lease ran out ({HEARTBEAT_SECONDS:g} s beats here; '
        "≤ 20 s by default)"
    )
    measures = 'next worker up → `"failed"`'
    cell = crash_table.Cell("worker", "embedded", outcome, failed_after, measures, FAILED_WITHIN)
    if stage == STAGE:
        crash_table.check(request, cell)  # the table on stage 5's page
    else:
        assert failed_after <= FAILED_WITHIN, f"{stage}: {cell.shown()}"  # the same bound


def test_a_healthy_long_job_on_the_embedded_transport_keeps_its_lease(
    serve_fresh: StartServer,
) -> None:
    # A job that runs 10 heartbeats long is renewed all along: no worker fails it.
    env = {**embedded_env(), "TASK_SECONDS": "5", "HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS)}
    workers = [start_worker(serve_fresh, env, name=name) for name in ("runner", "watcher")]
    api = start_api(serve_fresh, env)
    task_id = post_job(api)
    wait_until(lambda: status_of(api, task_id) == "completed", 30, "the job to complete")
    assert not any("interrupted" in line for w in workers for line in w.console_lines())


def test_two_workers_on_redis_share_200_jobs_and_run_each_exactly_once(
    serve_fresh: StartServer,
) -> None:
    env = {**redis_env(), "TASK_SECONDS": "0.02", "CELERY_RESULT_EXPIRES": "600"}
    workers = [start_worker(serve_fresh, env, concurrency=2, name=f"w{n}") for n in (1, 2)]
    api = start_api(serve_fresh, env)
    task_ids = [api.http.post("/long_task").json() for _ in range(200)]

    def successes() -> Counter[str]:
        lines = [line for worker in workers for line in worker.console_lines()]
        return Counter(m.group(1) for line in lines if (m := SUCCEEDED.search(line)))

    wait_until(lambda: sum(successes().values()) >= 200, 60, "200 jobs to succeed")
    assert successes() == Counter(task_ids)
    assert sum(worker.console_lines().count(STARTING) for worker in workers) == 200
    assert all(worker.console_lines().count(ENDING) > 0 for worker in workers)
    statuses = {api.http.get("/status", params={"task_id": id_}).json() for id_ in task_ids}
    assert statuses == {"completed"}
    # Redis forgets each result by itself: its key carries the expiry as a TTL.
    with redis.Redis.from_url(env["CELERY_RESULT_BACKEND"]) as client:
        ttl = client.ttl(f"{env['CELERY_KEY_PREFIX']}celery-task-meta-{task_ids[0]}")
    assert 0 < ttl <= 600


def test_a_visibility_timeout_shorter_than_the_job_runs_a_healthy_job_again(
    serve_fresh: StartServer,
) -> None:
    job_seconds, visibility_seconds = 2.5, 1.0
    env = {
        **redis_env(),
        "TASK_SECONDS": str(job_seconds),
        "CELERY_VISIBILITY_TIMEOUT": str(visibility_seconds),
    }
    worker = start_worker(serve_fresh, env, concurrency=4)
    api = start_api(serve_fresh, env)
    post_job(api)
    first_end = worker.wait_for_line(ENDING)
    runs = sum(1 for line in worker.lines if line.text == STARTING and line.at < first_end.at)
    # Each run's message went back to the queue while it ran, and a free process took it.
    worker.stop(signal.SIGKILL)  # the copies would go on forever
    assert runs >= 2
    on_page = int(DUPLICATE_RUNS_ON_PAGE.search(DOCS_PAGE.read_text())[1])
    assert abs(runs - on_page) <= 1, f"measured {runs} runs, the docs page says {on_page}"
