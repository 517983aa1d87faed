"""Stage 5 when the API or the broker restarts mid-job, and the crash table those runs fill.

The API keeps nothing of its own: killing it changes nothing for the job, on every broker. A
broker is a server of its own: each broker test starts a private one (the shared Redis and
RabbitMQ must stay up for everyone else), restarts it while one job runs and another waits in
it, and records what came through. Together with test_step5_queue_crashes.py these tests fill
the crash table on the stage 5 page (tests/crash_table.py).
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass

import pytest
import redis

from step5_queue.tasks import ALREADY_DONE, ENDING, QUEUE_NAME, STARTING
from tests import crash_table
from tests.services import PrivateBroker, private_broker
from tests.step5_deployments import (
    BROKER_ENVS,
    post_job,
    redis_env,
    start_api,
    start_worker,
    status_code_and_status,
    status_of,
)
from uvicorn_harness.server import RunningServer, StartServer, wait_until

# The restarted API answers within this many seconds of the kill: a uvicorn start.
API_BACK_WITHIN = 5.0
# The restart lands while the job runs; the waiting job shows whether the queue kept it.
RESTARTED_JOB_SECONDS = 2.0
# From the broker answering again to the worker's new connection. The worker does not watch
# the broker, it retries: Celery's consumer (celery/worker/consumer/consumer.py,
# ensure_connected) keeps kombu's defaults (kombu/connection.py, _ensure_connection:
# interval_start=2, interval_step=2, interval_max=30), so it waits 2 s, then 4, 6, 8, 10, 12 ...
# The gap is at most the wait it is in when the broker comes back, which grows with the
# restart's length, the machine's share (RabbitMQ: 4 s here, over 12 s on a busy machine). A
# broker back within 42 s of its stop meets a wait of at most 12 s; 3 s more for the connection.
RECONNECTED_WITHIN = 15.0
RECONNECTED = "Connected to "


@pytest.mark.parametrize("broker", BROKER_ENVS)
def test_killing_and_restarting_the_api_mid_job_leaves_the_job_and_its_status_alone(
    broker: str, request: pytest.FixtureRequest, serve_fresh: StartServer
) -> None:
    # Killing the API, starting a new one and asking it must all happen while the job runs.
    # That took 0.6-0.7 s here; a 6 s job leaves a loaded machine five more.
    env = {**BROKER_ENVS[broker](), "TASK_SECONDS": "6"}
    worker = start_worker(serve_fresh, env)
    api = start_api(serve_fresh, env)
    task_id = post_job(api)
    worker.wait_for_line(STARTING)
    api.stop(signal.SIGKILL)
    killed_at = time.monotonic()

    restarted = start_api(serve_fresh, env)
    assert status_of(restarted, task_id) == "running"
    back_after = time.monotonic() - killed_at
    wait_until(lambda: status_of(restarted, task_id) == "completed", 15, "status completed")
    assert worker.console_lines().count(STARTING) == 1
    outcome = "nothing: the job runs on"
    measures = "kill → new API answers"
    cell = crash_table.Cell("api", broker, outcome, back_after, measures, API_BACK_WITHIN)
    crash_table.check(request, cell)


# What a restart (clean, or kill -9) of each broker does to the job running and the jobs waiting
# in the queue: how many runs start, how many reach the job's end, and what the table says.
RESTART_OUTCOMES = {
    # The running job's message sits in Redis' unacked hash (in the append-only file); the
    # worker acknowledges it over its new connection when the job ends: it runs once.
    "redis": (3, 3, "the running job completes once; the waiting ones run"),
    # RabbitMQ requeues an unacknowledged message when its channel dies, and the worker's
    # acknowledgement over the dead channel fails ("Couldn't ack"): the job runs again, and
    # that run finds the first one's effect (step5_queue/effects.py).
    "rabbitmq": (
        4,
        3,
        "the running job runs twice (its ack was lost), its effect once; the waiting ones run",
    ),
}
WAITING_JOBS = 2


@dataclass
class BrokerRestart:
    """A worker with one job running and two waiting, whose broker was restarted under it."""

    worker: RunningServer
    api: RunningServer
    running_id: str
    waiting_ids: list[str]
    reconnect_seconds: float  # from the broker answering again to the worker's new connection

    @property
    def task_ids(self) -> list[str]:
        return [self.running_id, *self.waiting_ids]


def restart_mid_job(
    broker: str, private: PrivateBroker, serve: StartServer, killed: bool = False
) -> BrokerRestart:
    env = {"CELERY_BROKER_URL": private.url, "TASK_SECONDS": str(RESTARTED_JOB_SECONDS)}
    if broker == "redis":
        env["CELERY_RESULT_BACKEND"] = private.url
    else:
        env = {**redis_env(), **env}  # results in the shared Redis
    worker = start_worker(serve, env)  # one process: the other jobs wait in the broker
    api = start_api(serve, env)
    running_id = post_job(api)
    worker.wait_for_line(STARTING)
    # Accepted just before the broker goes: each POST answered, so each job must survive.
    waiting_ids = [post_job(api) for _ in range(WAITING_JOBS)]
    since = worker.mark()
    private.restart(killed)
    back_at = time.monotonic()
    reconnected = worker.wait_for_line(
        lambda text: RECONNECTED in text, since, timeout=RECONNECTED_WITHIN * 2
    )
    # The restart polls the broker every 50 ms, so a worker's retry can land just before the
    # poll that sees it answer: that is a reconnection at once, not a negative time.
    seconds = max(0.0, reconnected.at - back_at)
    return BrokerRestart(worker, api, running_id, waiting_ids, seconds)


def record_restart(
    request: pytest.FixtureRequest, crash: str, broker: str, outcome: str, restart: BrokerRestart
) -> None:
    measures = "broker answers again → worker reconnected"
    cell = crash_table.Cell(
        crash, broker, outcome, restart.reconnect_seconds, measures, RECONNECTED_WITHIN
    )
    crash_table.check(request, cell)


def every_job_completes(restart: BrokerRestart, broker: str) -> None:
    """Every accepted job completes, with the runs and effects RESTART_OUTCOMES says."""
    starts, endings, _ = RESTART_OUTCOMES[broker]
    api, worker = restart.api, restart.worker
    wait_until(
        lambda: {status_of(api, id_) for id_ in restart.task_ids} == {"completed"}, 30, "the jobs"
    )
    wait_until(lambda: worker.console_lines().count(STARTING) == starts, 15, "the runs")
    wait_until(lambda: worker.console_lines().count(ENDING) == endings, 15, "the effects")
    assert worker.console_lines().count(ALREADY_DONE) == starts - endings
    if broker == "rabbitmq":  # the first run's acknowledgement, on the dead connection
        assert any("Couldn't ack" in line for line in worker.console_lines())


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_a_restarted_broker_keeps_the_running_job_and_the_waiting_ones(
    broker: str, request: pytest.FixtureRequest, serve_fresh: StartServer
) -> None:
    with private_broker("Redis" if broker == "redis" else "RabbitMQ") as private:
        restart = restart_mid_job(broker, private, serve_fresh)
        every_job_completes(restart, broker)
    record_restart(request, "broker", broker, RESTART_OUTCOMES[broker][2], restart)


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_a_killed_broker_keeps_every_accepted_job(
    broker: str, request: pytest.FixtureRequest, serve_fresh: StartServer
) -> None:
    # kill -9 a moment after the last POST was answered. Redis: `appendonly yes` wrote each
    # change to its file before it answered (appendfsync everysec, Redis' default, syncs the
    # file once a second; the kernel keeps what was written when a process dies). RabbitMQ:
    # the API's publish waited for the broker's confirm, sent once the quorum queue had the
    # job on disk; without confirms, the same kill lost every message published in the last
    # few milliseconds (measured by hand: 0 of 100 kept).
    with private_broker("Redis" if broker == "redis" else "RabbitMQ") as private:
        restart = restart_mid_job(broker, private, serve_fresh, killed=True)
        every_job_completes(restart, broker)
    record_restart(request, "broker_killed", broker, RESTART_OUTCOMES[broker][2], restart)


def test_a_killed_redis_with_snapshots_only_forgets_the_waiting_jobs(
    request: pytest.FixtureRequest, serve_fresh: StartServer
) -> None:
    # Redis' default persistence, snapshots, saves after 1 change in an hour, 100 in 5 minutes
    # or 10000 in a minute, and at a clean shutdown (so a restart by SIGTERM keeps everything,
    # measured: both jobs ran). A kill -9 seconds after the jobs were sent finds no snapshot.
    with private_broker("Redis", persistent=False) as private:
        restart = restart_mid_job("redis", private, serve_fresh, killed=True)
        api = restart.api
        # The job already in the worker's hands finishes and writes its result anew...
        wait_until(lambda: status_of(api, restart.running_id) == "completed", 30, "the job")
        # ...the waiting ones, and every record of them, went with the kill: no worker will
        # ever run them (the queue in the new Redis is empty), and their ids are unknown.
        not_found = (404, {"detail": "Item not found"})
        for waiting_id in restart.waiting_ids:
            assert status_code_and_status(api, waiting_id) == not_found
        with redis.Redis.from_url(private.url) as client:
            assert client.llen(QUEUE_NAME) == 0
        assert restart.worker.console_lines().count(STARTING) == 1
    outcome = "the running job completes; the waiting ones are lost (404)"
    record_restart(request, "broker_killed_snapshots", "redis", outcome, restart)


# Jobs POSTed, with no worker to take them, right before each kill -9 of Redis.
JOBS_BEFORE_THE_KILL = 20
# A restarted Redis answers once it has replayed its append-only file: here a few hundred
# milliseconds; 5 s allows for a busy machine.
REDIS_BACK_WITHIN = 5.0


def test_a_killed_redis_keeps_what_it_wrote_with_every_appendfsync(
    request: pytest.FixtureRequest, serve_fresh: StartServer
) -> None:
    # appendfsync decides when Redis asks the kernel to put its file on the disk (fsync): at
    # every write (always), once a second (everysec) or when the kernel likes (no). Redis
    # write()s each change to the file before it answers, so a killed process loses none of
    # it under any of the three: the written bytes are the kernel's, not the process's. What
    # the setting bounds is a crash of the whole machine (power, kernel), which a test on one
    # machine cannot cause; the docs page quotes Redis' documentation for that.
    with private_broker("Redis") as private:
        env = {"CELERY_BROKER_URL": private.url, "CELERY_RESULT_BACKEND": private.url}
        api = start_api(serve_fresh, env)  # no worker: the jobs stay in the queue
        slowest = 0.0
        for appendfsync in ("always", "everysec", "no"):
            with redis.Redis.from_url(private.url) as client:
                client.config_set("appendfsync", appendfsync)
            posted = [post_job(api) for _ in range(JOBS_BEFORE_THE_KILL)]
            killed_at = time.monotonic()
            private.restart(True)
            slowest = max(slowest, time.monotonic() - killed_at)
            with redis.Redis.from_url(private.url) as client:
                kept = client.llen(QUEUE_NAME)
            assert kept == JOBS_BEFORE_THE_KILL * (
                1 + ["always", "everysec", "no"].index(appendfsync)
            )
            assert {status_of(api, task_id) for task_id in posted} == {"queued"}, appendfsync
    outcome = (
        f"{JOBS_BEFORE_THE_KILL} of {JOBS_BEFORE_THE_KILL} kept with `always`, `everysec` and `no`"
    )
    cell = crash_table.Cell(
        "broker_killed_fsync", "redis", outcome, slowest, "kill → Redis answers", REDIS_BACK_WITHIN
    )
    crash_table.check(request, cell)
