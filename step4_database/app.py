"""Stage 4 - database: the same API as stage 3, with every task's status in a database table."""

import os
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import anyio
from fastapi import BackgroundTasks, FastAPI, HTTPException
from pydantic import AfterValidator, BaseModel
from sqlalchemy.exc import SQLAlchemyError

from step4_database.settings import Settings
from step4_database.store import TaskStore, utc_now

# Each console line is defined once; the tests and the docs read these names.
ENTERING = "Entering endpoint"
STARTING = "Starting long task"
ENDING = "Ending long task"
FAILED = "Long task failed"
EXITING = "Exiting endpoint"
INTERRUPTED = "Task interrupted, marked failed"
TOO_LATE = "Long task ended after it was marked failed; status left failed"
UPKEEP_FAILED = "Task upkeep failed, will retry"

# Opened when this worker process starts (see lifespan); one of each per process.
store: TaskStore
job_threads: anyio.CapacityLimiter

# The tasks this process has a job for (running or waiting for a thread): the only leases its
# heartbeat renews. A job leaves the set however it ends, even when its final write fails, so
# a task whose outcome was never recorded stops being renewed and the sweep reports it failed.
jobs_in_flight: set[str] = set()
jobs_in_flight_lock = threading.Lock()  # the set is changed by the event loop, read by upkeep


# --8<-- [start:lifespan]
@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    global store, job_threads
    settings = Settings.from_environment()
    store = TaskStore(settings.database_url, settings.lease_seconds)
    job_threads = anyio.CapacityLimiter(settings.job_threads)
    stopping = threading.Event()
    upkeep = threading.Thread(target=keep_tasks_honest, args=(settings, stopping), daemon=True)
    upkeep.start()
    yield
    stopping.set()
    upkeep.join()
    store.close()
    # --8<-- [end:lifespan]


app = FastAPI(lifespan=lifespan)


def as_utc(moment: datetime) -> datetime:
    # Stored without a zone (SQLite has none); say it is UTC so clients read it right.
    return moment.replace(tzinfo=UTC)


StoredTime = Annotated[datetime, AfterValidator(as_utc)]


class TaskDetails(BaseModel):
    id: str
    status: str
    created_at: StoredTime
    started_at: StoredTime | None
    finished_at: StoredTime | None
    error: str | None


# --8<-- [start:upkeep]
def keep_tasks_honest(settings: Settings, stopping: threading.Event) -> None:
    """Every heartbeat: renew this process's leases, fail the tasks of processes that died,
    and delete finished tasks older than the retention. Runs at startup too, so a restart
    reports what the killed process left behind."""
    retention = timedelta(seconds=settings.retention_seconds)
    while True:
        try:
            with jobs_in_flight_lock:
                in_flight = list(jobs_in_flight)
            store.renew_leases(in_flight)
            for task_id in store.fail_interrupted():
                print(f"{INTERRUPTED}: {task_id}")
            store.delete_finished_before(utc_now() - retention)
        except SQLAlchemyError as error:
            # A database hiccup must not end the heartbeat: our live tasks would look dead.
            print(f"{UPKEEP_FAILED}: {error}")
        if stopping.wait(settings.heartbeat_seconds):
            return
            # --8<-- [end:upkeep]


def job_seconds() -> float:
    """How long the job sleeps: TASK_SECONDS, read when the job runs (default 5)."""
    raw = os.environ.get("TASK_SECONDS", "5")
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"TASK_SECONDS must be a number of seconds, got {raw!r}") from None


# --8<-- [start:job]
def very_long_task(task_id: str) -> None:
    try:
        store.mark_started(task_id)
        # Job threads print at once: a terminal line-buffers print(), so each line stays whole.
        print(STARTING)
        time.sleep(job_seconds())
        if os.environ.get("TASK_FAIL") == "1":
            raise RuntimeError("TASK_FAIL=1: the long task fails on purpose")
    except Exception as error:
        outcome: str | None = str(error)
        line = f"{FAILED}: {error}"
    else:
        outcome, line = None, ENDING
    # False when a sibling already reported the task interrupted: the first verdict stands.
    print(line if store.mark_finished(task_id, error=outcome) else f"{TOO_LATE}: {task_id}")


async def run_in_job_thread(task_id: str) -> None:
    with jobs_in_flight_lock:
        jobs_in_flight.add(task_id)
    try:
        # Jobs take threads from their own limiter, not from the 40 that serve `def` endpoints:
        # 100 sleeping jobs cannot make GET /status wait (stage 3 starves; see Pitfalls).
        await anyio.to_thread.run_sync(very_long_task, task_id, limiter=job_threads)
    finally:
        with jobs_in_flight_lock:
            jobs_in_flight.discard(task_id)
            # --8<-- [end:job]


class NotFound(BaseModel):
    detail: str


# Declared, so the OpenAPI schema (and /docs) shows the 404 that a reader's client must handle.
UNKNOWN_ID: dict[int | str, dict[str, Any]] = {
    404: {"model": NotFound, "description": "No task has this id"}
}


# --8<-- [start:endpoint]
@app.post("/long_task")
def long_task(background_tasks: BackgroundTasks) -> str:
    print(ENTERING)
    task_id = str(uuid.uuid4())
    # Committed before the id is returned, so every worker can answer for it at once.
    store.add(task_id)
    background_tasks.add_task(run_in_job_thread, task_id)
    print(EXITING)
    return task_id
    # --8<-- [end:endpoint]


# --8<-- [start:status]
@app.get("/status", responses=UNKNOWN_ID)
def status(task_id: str) -> str:
    task = store.get(task_id)
    if task is None:
        raise HTTPException(status_code=404, detail="Item not found")
    return task.status


@app.get("/tasks/{task_id}", responses=UNKNOWN_ID)
def task_details(task_id: str) -> TaskDetails:
    task = store.get(task_id)
    if task is None:
        raise HTTPException(status_code=404, detail="Item not found")
    return TaskDetails.model_validate(task, from_attributes=True)
    # --8<-- [end:status]
