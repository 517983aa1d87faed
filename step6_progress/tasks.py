"""Stage 6 - progress and cancel: the Celery app and the job, which reports its steps and stops
when asked. Workers run this; the web app only enqueues, cancels and reads.

Start a worker: `celery -A step6_progress.tasks worker --loglevel=INFO`. With no settings it
needs no server: messages are files in QUEUE_FOLDER and results a SQLite file there.
CELERY_BROKER_URL and CELERY_RESULT_BACKEND point every API process and worker, on any machine,
at the same Redis.
"""

import os
import time
from pathlib import Path

from celery import Celery, Task, signals, states
from celery.exceptions import Ignore

from embedded_queue import EmbeddedQueue, is_folder_broker, is_sqlite_results, watch_leases

# Each console line is defined once; the tests and the docs read these names.
ENTERING = "Entering endpoint"
STARTING = "Starting long task"
ENDING = "Ending long task"
FAILED = "Long task failed"
EXITING = "Exiting endpoint"
INTERRUPTED = "Long task interrupted"
CANCELLED_LINE = "Long task cancelled"

# The state the API records for an id it has issued, before any worker has seen the job.
QUEUED = "QUEUED"
# --8<-- [start:states]
# Custom states, as Celery's docs make them (update_state with a state and a meta dict):
# PROGRESS while the job runs, with its steps done; CANCELLED when it stopped because asked.
# Not Celery's REVOKED: the result backend reads a REVOKED result back as an exception
# (celery/backends/base.py, EXCEPTION_STATES), so it cannot carry the steps done.
PROGRESS = "PROGRESS"
CANCELLED = "CANCELLED"
# A cancel request is a record of its own in the result store, beside the job's. Not the job's
# state: the job writes that at every step, and would overwrite a request written in between.
CANCEL_REQUESTED = "CANCEL_REQUESTED"
# The job is TASK_SECONDS long, in this many steps; it reports each and may stop between two.
STEPS = 10
# --8<-- [end:states]

# With no settings the queue is this folder (embedded_queue/): messages as files, results in
# SQLite, no server to run. A folder of its own, beside stage 5's: a stage-5 worker must not
# take this stage's jobs.
EMBEDDED = EmbeddedQueue(Path(os.environ.get("QUEUE_FOLDER", ".queue/step6")).resolve())
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
celery_app = Celery("step6_progress")
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
    # No "STARTED" from Celery: the job records its own start, with its steps and the number of
    # its run, which Celery's STARTED (meta: pid and hostname) would overwrite.
    task_track_started=False,
    # Task events (received, started, succeeded...) for Flower; `celery worker -E` does the same.
    worker_send_task_events=True,
    task_send_sent_event=True,
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


RUNNING_STATES = {states.STARTED, PROGRESS}


# --8<-- [start:leases]
# The folder queue deletes a job's file when a worker takes it: if the whole worker dies, no
# broker can give the job back, as Redis and RabbitMQ do. So each running job holds a lease,
# and any worker reports a job whose lease ran out "failed" instead of "running" for ever.
def report_interrupted(task_id: str) -> None:
    print(f"{INTERRUPTED}: {task_id}")


if EMBEDDED_BROKER:
    watch_leases(celery_app, EMBEDDED.leases, HEARTBEAT_SECONDS, RUNNING_STATES, report_interrupted)
# --8<-- [end:leases]


def job_seconds() -> float:
    """How long the job sleeps: TASK_SECONDS, read when the job runs (default 5)."""
    raw = os.environ.get("TASK_SECONDS", "5")
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"TASK_SECONDS must be a number of seconds, got {raw!r}") from None


# --8<-- [start:cancel]
def cancel_record_id(task_id: str) -> str:
    """Where a cancel request for `task_id` is kept: a record of its own in the result store,
    seen by every API process and worker, and expiring with the results."""
    return f"{task_id}.cancel"


def request_cancel(task_id: str) -> None:
    celery_app.backend.store_result(cancel_record_id(task_id), None, CANCEL_REQUESTED)


def cancel_requested(task_id: str) -> bool:
    return bool(celery_app.backend.get_state(cancel_record_id(task_id)) == CANCEL_REQUESTED)


# --8<-- [end:cancel]


def progress(done: int, run: int, seq: int) -> dict[str, int]:
    """The meta of a PROGRESS (or final) state: steps done of STEPS, which run of the job this
    is (2 after a worker died and the job started again), and `seq`, which numbers the job's
    writes for the event stream: it only grows, across runs too (see app.py, event_id)."""
    return {"done": done, "total": STEPS, "run": run, "seq": seq}


def next_run(task_id: str) -> tuple[int, int]:
    """This run's number and the last `seq` written: a job found mid-progress was started by a
    run whose worker died, and this run carries on its numbering."""
    meta = celery_app.backend.get_task_meta(task_id)
    if meta["status"] == PROGRESS and isinstance(meta["result"], dict):
        return meta["result"]["run"] + 1, meta["result"]["seq"]
    return 1, 0


# --8<-- [start:job]
@celery_app.task(bind=True)
def very_long_task(self: Task) -> dict[str, int]:
    task_id = self.request.id
    run, seq = next_run(task_id)
    step_seconds = job_seconds() / STEPS
    for done in range(STEPS):
        # Cooperative: the job looks for a cancel request between its steps. Nothing can stop
        # it safely inside time.sleep (or any call of its own): see the docs page.
        if cancel_requested(task_id):
            self.update_state(state=CANCELLED, meta=progress(done, run, seq + 1))
            print(CANCELLED_LINE)
            # Monitors such as Flower follow task events, and Ignore sends none: say it ended.
            self.send_event("task-revoked", terminated=False, signum=None, expired=False)
            raise Ignore()  # Celery stores nothing more and acknowledges the message
        seq += 1
        self.update_state(state=PROGRESS, meta=progress(done, run, seq))
        if done == 0:
            # After the write, as Celery stores STARTED before a job runs: a job that says it
            # started is recorded running, so its lease can report it if its worker dies.
            print(STARTING)
        time.sleep(step_seconds)
    if os.environ.get("TASK_FAIL") == "1":
        error = RuntimeError("TASK_FAIL=1: the long task fails on purpose")
        print(f"{FAILED}: {error}")
        # Celery stores the failure (and this error) in the result backend for GET /status.
        raise error
    print(ENDING)
    return progress(STEPS, run, seq + 1)


# --8<-- [end:job]
