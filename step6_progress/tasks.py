"""Stage 6 - progress and cancel: the Celery app and the job, which reports its steps and stops
when asked. Workers run this; the web app only enqueues, cancels and reads.

Start a worker: `celery -A step6_progress.tasks worker --loglevel=INFO`. With no settings it
needs no server: messages are files in QUEUE_FOLDER and results a SQLite file there.
CELERY_BROKER_URL and CELERY_RESULT_BACKEND point every API process and worker, on any machine,
at the same Redis.
"""

import json
import os
import socket
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from celery import Celery, Task, signals, states
from celery.exceptions import Ignore
from kombu.transport import TRANSPORT_ALIASES

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

# kombu's filesystem transport, but a worker can no longer take a message file still being
# written, which lost jobs when clients POSTed at once (see folder_transport.py).
TRANSPORT_ALIASES["filesystem-atomic"] = "step6_progress.folder_transport:Transport"

# A folder of its own, beside stage 5's: a stage-5 worker must not take this stage's jobs.
QUEUE_FOLDER = Path(os.environ.get("QUEUE_FOLDER", ".queue/step6")).resolve()
BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem-atomic://")
RESULT_BACKEND = os.environ.get(
    "CELERY_RESULT_BACKEND", f"db+sqlite:///{QUEUE_FOLDER / 'results.sqlite3'}"
)
# Lets several apps (or test runs) share one Redis without seeing each other's keys.
KEY_PREFIX = os.environ.get("CELERY_KEY_PREFIX", "")
# The queue jobs wait in: Celery's "celery" unless set (the tests use one per run on RabbitMQ).
QUEUE_NAME = os.environ.get("CELERY_QUEUE", "celery")
# Processes per worker; unset means one per CPU, and `celery worker --concurrency N` overrides.
WORKER_CONCURRENCY = os.environ.get("WORKER_CONCURRENCY")
# Embedded transport: how often a running job renews its lease, and after how many missed
# renewals any worker reports it "failed" (interrupted). See the leases below.
HEARTBEAT_SECONDS = float(os.environ.get("HEARTBEAT_SECONDS", "5"))
MISSED_HEARTBEATS = 3
EMBEDDED_BROKER = BROKER_URL.startswith(("filesystem-atomic://", "filesystem://"))
EMBEDDED_RESULTS = RESULT_BACKEND.startswith("db+sqlite://")


def broker_options() -> dict[str, object]:
    """Transport options for the broker the URL names (each transport reads its own)."""
    if EMBEDDED_BROKER:
        messages = QUEUE_FOLDER / "messages"
        return {
            "data_folder_in": str(messages),
            "data_folder_out": str(messages),
            "control_folder": str(QUEUE_FOLDER / "control"),
            # Workers poll the folder; kombu's default of 1 s starts every job up to 1 s late.
            "polling_interval": 0.1,
        }
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
    """Create the embedded queue's folder and SQLite file. The API and every worker call this
    when they start; importing this module (for its names, say) creates nothing."""
    if EMBEDDED_BROKER:
        (QUEUE_FOLDER / "messages").mkdir(parents=True, exist_ok=True)
    if EMBEDDED_RESULTS:
        database = Path(RESULT_BACKEND.removeprefix("db+sqlite:///"))
        database.parent.mkdir(parents=True, exist_ok=True)
        # WAL lets the API read statuses while a worker writes one (stored in the file).
        with sqlite3.connect(database) as connection:
            connection.execute("PRAGMA journal_mode=WAL")


# --8<-- [start:settings]
celery_app = Celery("step6_progress")
celery_app.conf.update(
    broker_url=BROKER_URL,
    result_backend=RESULT_BACKEND,
    broker_transport_options=broker_options(),
    result_backend_transport_options={"global_keyprefix": KEY_PREFIX},
    broker_connection_retry_on_startup=True,
    task_default_queue=QUEUE_NAME,
    # Results (and the ids the API recorded) are forgotten after this many seconds.
    result_expires=int(os.environ.get("CELERY_RESULT_EXPIRES", str(24 * 3600))),
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
    # The job's prints go to the console as they are, like the other stages' lines.
    worker_redirect_stdouts=False,
    # Where `--beat` keeps its schedule: with the rest of the embedded queue.
    beat_schedule_filename=str(QUEUE_FOLDER / "beat-schedule"),
)
# --8<-- [end:settings]


@signals.worker_init.connect
def prepare_worker(**_: object) -> None:
    create_embedded_queue()


RUNNING_STATES = {states.STARTED, PROGRESS}


# --8<-- [start:leases]
# The embedded transport deletes a job's file when a worker takes it: if the whole worker dies,
# no broker can give the job back. So a running job holds a lease, a file its pool process
# touches every HEARTBEAT_SECONDS; every worker of the queue looks for leases nobody renewed
# for MISSED_HEARTBEATS beats and reports their jobs "failed" instead of "running" for ever.
class Interrupted(Exception):
    """The worker running the job stopped (killed, machine gone) before the job ended."""


def lease_path(task_id: str) -> Path:
    return QUEUE_FOLDER / "leases" / f"{task_id}.json"


_renewals: dict[str, threading.Event] = {}


@signals.task_prerun.connect
def take_lease(task_id: str, task: Task, **_: object) -> None:
    if not EMBEDDED_BROKER:
        return  # Redis and RabbitMQ give a dead worker's job back themselves
    path = lease_path(task_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    holder = {"hostname": task.request.hostname or socket.gethostname(), "pid": os.getpid()}
    path.write_text(json.dumps(holder))
    finished = _renewals[task_id] = threading.Event()

    def renew() -> None:
        while not finished.wait(HEARTBEAT_SECONDS):
            os.utime(path)

    threading.Thread(target=renew, daemon=True, name=f"lease-{task_id}").start()


@signals.task_postrun.connect
def give_lease_back(task_id: str, **_: object) -> None:
    if finished := _renewals.pop(task_id, None):
        finished.set()
        lease_path(task_id).unlink(missing_ok=True)


def fail_abandoned_jobs() -> None:
    """Report every job whose lease nobody renewed in time as failed (interrupted)."""
    overdue = time.time() - MISSED_HEARTBEATS * HEARTBEAT_SECONDS
    for path in (QUEUE_FOLDER / "leases").glob("*.json"):
        try:
            renewed, holder = path.stat().st_mtime, json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # just given back, or being written
        task_id = path.stem
        # Only a job still running: one that ended just before its worker died keeps its result.
        if renewed < overdue and celery_app.backend.get_state(task_id) in RUNNING_STATES:
            error = Interrupted(
                f"interrupted: worker {holder['hostname']} (pid {holder['pid']}) stopped "
                f"renewing the job's lease for {MISSED_HEARTBEATS * HEARTBEAT_SECONDS:g} s"
            )
            celery_app.backend.mark_as_failure(task_id, error)
            print(f"{INTERRUPTED}: {task_id}")
        if renewed < overdue:
            path.unlink(missing_ok=True)


@signals.worker_ready.connect
def look_for_abandoned_jobs(sender: Any, **_: object) -> None:
    if EMBEDDED_BROKER:
        fail_abandoned_jobs()
        # On the worker's event loop (the main process), not a thread: pool processes are
        # forked from it, and a fork copies no other thread, only the locks it might hold.
        sender.timer.call_repeatedly(HEARTBEAT_SECONDS, fail_abandoned_jobs)


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
        if done == 0:
            print(STARTING)
        seq += 1
        self.update_state(state=PROGRESS, meta=progress(done, run, seq))
        time.sleep(step_seconds)
    if os.environ.get("TASK_FAIL") == "1":
        error = RuntimeError("TASK_FAIL=1: the long task fails on purpose")
        print(f"{FAILED}: {error}")
        # Celery stores the failure (and this error) in the result backend for GET /status.
        raise error
    print(ENDING)
    return progress(STEPS, run, seq + 1)


# --8<-- [end:job]
