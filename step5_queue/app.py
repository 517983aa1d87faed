"""Stage 5 - a real queue: the API only enqueues jobs and reports what the result backend says.

Serve it with `uvicorn step5_queue.app:app`; jobs run in Celery workers (see tasks.py).
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from celery import states
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

from step5_queue.tasks import (
    ENTERING,
    EXITING,
    QUEUED,
    celery_app,
    create_embedded_queue,
    very_long_task,
)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    create_embedded_queue()  # without Redis: the queue's folder and SQLite file
    # Connect to the result store now, not in the first client's request (on SQLite, Celery
    # creates its tables: a few hundred milliseconds).
    celery_app.backend.get_task_meta(str(uuid.uuid4()))
    yield


app = FastAPI(lifespan=lifespan)

# Celery's states in the words of the status API. PENDING is missing on purpose: Celery says
# PENDING for every id it has never heard of, so it cannot tell "waiting" from "unknown".
STATUSES = {
    QUEUED: "queued",
    states.RECEIVED: "queued",
    states.STARTED: "running",
    states.RETRY: "running",
    states.SUCCESS: "completed",
    states.FAILURE: "failed",
    states.REVOKED: "failed",
}


class Task(BaseModel):
    id: str
    status: str
    error: str | None
    finished_at: datetime | None


class NotFound(BaseModel):
    detail: str


# Declared, so the OpenAPI schema (and /docs) shows the 404 that a reader's client must handle.
UNKNOWN_ID: dict[int | str, dict[str, Any]] = {
    404: {"model": NotFound, "description": "No task has this id"}
}


@app.post("/long_task")
def long_task() -> str:
    print(ENTERING)
    task_id = str(uuid.uuid4())
    # Record the id where the results live, before a worker can start the job: every API
    # process on every machine can then answer for it, and it expires with the result.
    celery_app.backend.store_result(task_id, None, QUEUED)
    try:
        very_long_task.apply_async(task_id=task_id)
    except Exception:
        # No job was queued (the broker is down): forget the id, or it says "queued" for ever.
        celery_app.backend.forget(task_id)
        raise
    print(EXITING)
    return task_id


def read_task(task_id: str) -> Task:
    meta = celery_app.backend.get_task_meta(task_id)
    if meta["status"] not in STATUSES:
        raise HTTPException(status_code=404, detail="Item not found")
    failure = meta["result"] if meta["status"] == states.FAILURE else None
    finished = meta["status"] in states.READY_STATES
    return Task(
        id=task_id,
        status=STATUSES[meta["status"]],
        error=f"{type(failure).__name__}: {failure}" if failure is not None else None,
        # The database backend dates every write; only a finished job's date is its end.
        finished_at=meta.get("date_done") if finished else None,
    )


@app.get("/status", responses=UNKNOWN_ID)
def status(task_id: str) -> str:
    return read_task(task_id).status


@app.get("/tasks/{task_id}", responses=UNKNOWN_ID)
def task_details(task_id: str) -> Task:
    return read_task(task_id)
