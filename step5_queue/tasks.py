"""Stage 5 - a real queue: the Celery app and the job. Workers run this; the web app only enqueues.

Start a worker: `celery -A step5_queue.tasks worker --loglevel=INFO`. With no settings it needs no
server: messages are files in QUEUE_FOLDER and results a SQLite file there. CELERY_BROKER_URL and
CELERY_RESULT_BACKEND point every API process and worker, on any machine, at the same Redis.
"""

import os
import signal
import time
import uuid
from pathlib import Path

from celery import Celery, Task, signals, states

from embedded_queue import EmbeddedQueue, is_folder_broker, is_sqlite_results, watch_leases
from step5_queue.effects import effects_in

# Each console line is defined once; the tests and the docs read these names.
ENTERING = "Entering endpoint"
STARTING = "Starting long task"
ENDING = "Ending long task"
FAILED = "Long task failed"
EXITING = "Exiting endpoint"
INTERRUPTED = "Long task interrupted"
ALREADY_DONE = "Long task already done by an earlier run: skipped"
CRASHING = "Long task crashes on purpose"

# The state the API records for an id it has issued, before any worker has seen the job.
QUEUED = "QUEUED"

# With no settings the queue is this folder (embedded_queue/): messages as files, results in
# SQLite, no server to run.
EMBEDDED = EmbeddedQueue(Path(os.environ.get("QUEUE_FOLDER", ".queue")).resolve())
BROKER_URL = os.environ.get("CELERY_BROKER_URL", EMBEDDED.broker_url)
RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", EMBEDDED.result_backend)
# Lets several apps (or test runs) share one Redis without seeing each other's keys.
KEY_PREFIX = os.environ.get("CELERY_KEY_PREFIX", "")
# The queue jobs wait in: Celery's "celery" unless set (the tests use one per run on RabbitMQ).
QUEUE_NAME = os.environ.get("CELERY_QUEUE", "celery")
# Processes per worker; unset means one per CPU, and `celery worker --concurrency N` overrides.
WORKER_CONCURRENCY = os.environ.get("WORKER_CONCURRENCY")
# Seconds a result is kept (result_expires below).
RESULT_EXPIRES = int(os.environ.get("CELERY_RESULT_EXPIRES", str(24 * 3600)))
# Embedded queue: how often a running job renews its lease (see the leases below).
HEARTBEAT_SECONDS = float(os.environ.get("HEARTBEAT_SECONDS", "5"))
EMBEDDED_BROKER = is_folder_broker(BROKER_URL)
RABBITMQ_BROKER = BROKER_URL.startswith(("amqp://", "pyamqp://"))
EMBEDDED_RESULTS = is_sqlite_results(RESULT_BACKEND)


def broker_options() -> dict[str, object]:
    """Transport options for the broker the URL names (each transport reads its own)."""
    if EMBEDDED_BROKER:
        return EMBEDDED.transport_options()
    if RABBITMQ_BROKER:
        # The POST returns once RabbitMQ has the job on disk (a publisher confirm), not when it
        # has left this process: a broker killed in between would otherwise lose an accepted job.
        # (CELERY_CONFIRM_PUBLISH=0 turns them off, for the benchmark to measure what they cost.)
        return {"confirm_publish": os.environ.get("CELERY_CONFIRM_PUBLISH", "1") != "0"}
    return {
        # A job taken by a worker that then vanishes goes back to the queue after this many
        # seconds. It must be longer than the longest job, or healthy jobs run twice (see docs).
        "visibility_timeout": float(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600")),
        # Look for such overdue jobs every second (kombu's default: every 10 x 10 s).
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
        "global_keyprefix": KEY_PREFIX,
    }


def create_embedded_queue() -> None:
    """Create the embedded queue's folder and SQLite file, where the settings use them. The API
    and every worker call this when they start; importing this module creates nothing."""
    EMBEDDED.create(BROKER_URL, RESULT_BACKEND)


# --8<-- [start:settings]
celery_app = Celery("step5_queue")
celery_app.conf.update(
    broker_url=BROKER_URL,
    result_backend=RESULT_BACKEND,
    broker_transport_options=broker_options(),
    result_backend_transport_options={"global_keyprefix": KEY_PREFIX},
    broker_connection_retry_on_startup=True,
    task_default_queue=QUEUE_NAME,
    # RabbitMQ: a quorum queue, which writes every job to disk (and, in a cluster, to a majority
    # of nodes) before it confirms it. Classic mirrored queues are gone in RabbitMQ 4. Redis and
    # the folder have no queue types and ignore this.
    task_default_queue_type="quorum",
    # Results (and the ids the API recorded) are forgotten after this many seconds.
    result_expires=RESULT_EXPIRES,
    # Record "STARTED" when a worker begins a job, so GET /status can say "running".
    task_track_started=True,
    # Acknowledge a job when it has finished, not when a worker takes it: a job whose worker
    # dies is delivered again. A job must therefore be safe to run twice (see docs).
    task_acks_late=True,
    # ...also when the pool process running it is killed (Celery's default is to fail the job).
    task_reject_on_worker_lost=True,
    # A worker takes one job per free process, so queued jobs wait where any worker can take them.
    worker_prefetch_multiplier=1,
    # A killed pool process is reported (and its job put back) after 1 s instead of 10 s; the
    # result of a job that did finish comes over a local pipe, well within that second.
    worker_lost_wait=1.0,
    worker_concurrency=int(WORKER_CONCURRENCY) if WORKER_CONCURRENCY else None,
    # A cold shutdown (SIGQUIT, or SIGTERM with REMAP_SIGTERM=SIGQUIT) lets running jobs go on
    # this many seconds, then puts the unfinished ones back in the queue (see docs).
    worker_soft_shutdown_timeout=float(os.environ.get("SOFT_SHUTDOWN_SECONDS", "0")),
    # The job's prints go to the console as they are, like the other stages' lines.
    worker_redirect_stdouts=False,
    # Where `--beat` keeps its schedule: with the rest of the embedded queue.
    beat_schedule_filename=str(EMBEDDED.beat_schedule),
)
# --8<-- [end:settings]


@signals.worker_init.connect
def prepare_worker(**_: object) -> None:
    create_embedded_queue()


# --8<-- [start:leases]
# The folder queue deletes a job's file when a worker takes it: if the whole worker dies, no
# broker can give the job back, as Redis and RabbitMQ do. So each running job holds a lease,
# and any worker reports a job whose lease ran out "failed" instead of "running" for ever.
def report_interrupted(task_id: str) -> None:
    print(f"{INTERRUPTED}: {task_id}")


if EMBEDDED_BROKER:
    watch_leases(
        celery_app, EMBEDDED.leases, HEARTBEAT_SECONDS, {states.STARTED}, report_interrupted
    )
# --8<-- [end:leases]


def job_seconds() -> float:
    """How long the job sleeps: TASK_SECONDS, read when the job runs (default 5)."""
    raw = os.environ.get("TASK_SECONDS", "5")
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"TASK_SECONDS must be a number of seconds, got {raw!r}") from None


def seconds_for(task_id: str, mix: list[float]) -> float:
    """The length this job's id picks from `mix`: random across jobs, fixed for each one."""
    return mix[uuid.UUID(task_id).int % len(mix)]


def job_seconds_for(task_id: str) -> float:
    """TASK_SECONDS, or with TASK_SECONDS_MIX="1,2,3,40" a load of jobs of mixed lengths, where
    each job's length follows from its id (seconds_for), so a test can tell which job is which."""
    mix = os.environ.get("TASK_SECONDS_MIX")
    if not mix:
        return job_seconds()
    return seconds_for(task_id, [float(seconds) for seconds in mix.split(",")])


def crash_on_purpose(point: str) -> None:
    """TASK_CRASH=after_effect: the process running the job dies there, as a machine may."""
    if os.environ.get("TASK_CRASH") == point:
        print(f"{CRASHING}: {point}")
        os.kill(os.getpid(), signal.SIGKILL)


# The store of the jobs' effects: beside the results, kept as long (see effects.py).
EFFECTS = effects_in(RESULT_BACKEND, KEY_PREFIX, RESULT_EXPIRES)


# --8<-- [start:job]
@celery_app.task(bind=True)
def very_long_task(self: Task) -> None:
    task_id = self.request.id
    # Pool processes share this console: a terminal line-buffers print(), so lines stay whole.
    print(STARTING)
    # A job may run twice (the worker died before its acknowledgement): its effect, once.
    if EFFECTS.recorded(task_id) is not None:
        print(ALREADY_DONE)
        return
    time.sleep(job_seconds_for(task_id))
    if os.environ.get("TASK_FAIL") == "1":
        error = RuntimeError("TASK_FAIL=1: the long task fails on purpose")
        print(f"{FAILED}: {error}")
        # Celery stores the failure (and this error) in the result backend for GET /status.
        raise error
    # The effect: the job's report, under its id. If another run recorded it first, that one
    # counts, and this run's work is dropped.
    report = {"worker": self.request.hostname, "pid": os.getpid(), "at": time.time()}
    if not EFFECTS.record_once(task_id, report):
        print(ALREADY_DONE)
        return
    crash_on_purpose("after_effect")
    print(ENDING)


# --8<-- [end:job]
