"""Stage 5 - a real queue: the Celery app and the job. Workers run this; the web app only enqueues.

Start a worker: `celery -A step5_queue.tasks worker --loglevel=INFO`. With no settings it needs no
server: messages are files in QUEUE_FOLDER and results a SQLite file there. CELERY_BROKER_URL and
CELERY_RESULT_BACKEND point every API process and worker, on any machine, at the same Redis.
"""

import os
import time
from pathlib import Path

from celery import Celery, signals, states

from embedded_queue import EmbeddedQueue, is_folder_broker, is_sqlite_results, watch_leases

# Each console line is defined once; the tests and the docs read these names.
ENTERING = "Entering endpoint"
STARTING = "Starting long task"
ENDING = "Ending long task"
FAILED = "Long task failed"
EXITING = "Exiting endpoint"
INTERRUPTED = "Long task interrupted"

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
# Embedded queue: how often a running job renews its lease (see the leases below).
HEARTBEAT_SECONDS = float(os.environ.get("HEARTBEAT_SECONDS", "5"))
EMBEDDED_BROKER = is_folder_broker(BROKER_URL)
EMBEDDED_RESULTS = is_sqlite_results(RESULT_BACKEND)


def broker_options() -> dict[str, object]:
    """Transport options for the broker the URL names (each transport reads its own)."""
    if EMBEDDED_BROKER:
        return EMBEDDED.transport_options()
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
    # Results (and the ids the API recorded) are forgotten after this many seconds.
    result_expires=int(os.environ.get("CELERY_RESULT_EXPIRES", str(24 * 3600))),
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


@celery_app.task
def very_long_task() -> None:
    # Pool processes share this console: a terminal line-buffers print(), so lines stay whole.
    print(STARTING)
    time.sleep(job_seconds())
    if os.environ.get("TASK_FAIL") == "1":
        error = RuntimeError("TASK_FAIL=1: the long task fails on purpose")
        print(f"{FAILED}: {error}")
        # Celery stores the failure (and this error) in the result backend for GET /status.
        raise error
    print(ENDING)
