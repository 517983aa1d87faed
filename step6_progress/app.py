"""Stage 6 - progress and cancel: stage 5's queue, plus the job's steps, a stream of its events,
a cancel endpoint and a live page at /.

Serve it with `uvicorn step6_progress.app:app`; jobs run in Celery workers (see tasks.py).
"""

import os
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import anyio
import anyio.to_thread
from celery import states
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel

from step6_progress.tasks import (
    CANCELLED,
    ENTERING,
    EXITING,
    PROGRESS,
    QUEUED,
    celery_app,
    create_embedded_queue,
    progress,
    request_cancel,
    very_long_task,
)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    create_embedded_queue()  # without Redis: the queue's folder and SQLite file
    # Connect to the result store now, not in the first client's request (on SQLite, Celery
    # creates its tables: a few hundred milliseconds).
    celery_app.backend.get_task_meta(str(uuid.uuid4()))
    # The streams' reads take threads of their own, so that 100 open streams never make a
    # request wait for one of the 40 threads that serve the other endpoints.
    app.state.stream_reads = anyio.CapacityLimiter(STREAM_READ_THREADS)
    yield


app = FastAPI(lifespan=lifespan)

# Celery's states in the words of the status API. PENDING is missing on purpose: Celery says
# PENDING for every id it has never heard of, so it cannot tell "waiting" from "unknown".
STATUSES = {
    QUEUED: "queued",
    states.RECEIVED: "queued",
    states.STARTED: "running",
    PROGRESS: "running",
    states.RETRY: "running",
    states.SUCCESS: "completed",
    states.FAILURE: "failed",
    # Celery's own: a worker that got the revoke drops the queued message and records this.
    states.REVOKED: "cancelled",
    CANCELLED: "cancelled",
}
FINAL_STATES = {states.SUCCESS, states.FAILURE, states.REVOKED, CANCELLED}
# How soon each open event stream reads the job's state again after a change; while nothing
# changes (a job waiting in the queue), it reads ever less often, down to once a second.
EVENTS_POLL_SECONDS = float(os.environ.get("EVENTS_POLL_SECONDS", "0.2"))
EVENTS_IDLE_POLL_SECONDS = 1.0
STREAM_READ_THREADS = 4
# The one final event of a job gets the highest id (see event_id).
FINAL_EVENT_ID = 10**9
LIVE_PAGE = Path(__file__).with_name("static") / "index.html"


class Progress(BaseModel):
    done: int
    total: int


class Task(BaseModel):
    id: str
    status: str
    progress: Progress | None
    # Which run of the job this is: 2 after its worker died and the job started again.
    run: int | None
    error: str | None
    finished_at: datetime | None


class Detail(BaseModel):
    detail: str


# Declared, so the OpenAPI schema (and /docs) shows the 404 that a reader's client must handle.
UNKNOWN_ID: dict[int | str, dict[str, Any]] = {
    404: {"model": Detail, "description": "No task has this id"}
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


def known_meta(task_id: str) -> dict[str, Any]:
    """The job's record in the result backend; 404 for an id the API never issued."""
    meta: dict[str, Any] = celery_app.backend.get_task_meta(task_id)
    if meta["status"] not in STATUSES:
        raise HTTPException(status_code=404, detail="Item not found")
    return meta


def task_from_meta(task_id: str, meta: dict[str, Any]) -> Task:
    result = meta["result"]
    steps = result if isinstance(result, dict) and "done" in result else None
    failure = result if meta["status"] == states.FAILURE else None
    return Task(
        id=task_id,
        status=STATUSES[meta["status"]],
        progress=Progress(done=steps["done"], total=steps["total"]) if steps else None,
        run=steps["run"] if steps else None,
        error=f"{type(failure).__name__}: {failure}" if failure is not None else None,
        # The database backend dates every write; only a finished job's date is its end.
        finished_at=meta.get("date_done") if meta["status"] in FINAL_STATES else None,
    )


def read_task(task_id: str) -> Task:
    return task_from_meta(task_id, known_meta(task_id))


@app.get("/status", responses=UNKNOWN_ID)
def status(task_id: str) -> str:
    return read_task(task_id).status


@app.get("/tasks/{task_id}", responses=UNKNOWN_ID)
def task_details(task_id: str) -> Task:
    return read_task(task_id)


# --8<-- [start:cancel]
@app.post(
    "/tasks/{task_id}/cancel",
    status_code=202,
    responses={
        **UNKNOWN_ID,
        409: {"model": Detail, "description": "The job has finished: nothing to cancel"},
    },
)
def cancel(task_id: str) -> Task:
    meta = known_meta(task_id)
    task = task_from_meta(task_id, meta)
    if task.status in {"completed", "failed"}:
        raise HTTPException(status_code=409, detail=f"Task already {task.status}")
    if task.status == "cancelled":
        return task  # asked twice: nothing more to do
    # The request first, where every worker looks, now or after a restart: a running job reads
    # it before its next step, and a queued one before its first.
    request_cancel(task_id)
    # Then Celery's own revoke, broadcast to the workers running now: one that takes the queued
    # message drops it without starting the job. terminate=False: see the docs page.
    celery_app.control.revoke(task_id)
    if meta["status"] == QUEUED:
        # No worker has it yet: say so at once, instead of when a worker takes the message.
        celery_app.backend.store_result(task_id, progress(0, 0, 0), CANCELLED)
    return read_task(task_id)


# --8<-- [end:cancel]


# --8<-- [start:events]
def event_id(meta: dict[str, Any]) -> int:
    """The number of the job's event: the same in every API process, and only growing, so a
    client that reconnects with Last-Event-ID gets only what it has not seen. The job numbers
    its own writes (`seq`); "queued" comes first and the one final event last."""
    if meta["status"] in FINAL_STATES:
        return FINAL_EVENT_ID
    result = meta["result"]
    return int(result["seq"]) if isinstance(result, dict) and "seq" in result else 0


def unseen_meta(
    task_id: str, last_event_id: Annotated[int | None, Header()] = None
) -> dict[str, Any]:
    """The job's record, before the stream starts: 404 while a status can still be sent. And a
    client that has the final event already gets 204, which tells a browser not to reconnect."""
    meta = known_meta(task_id)
    if last_event_id is not None and last_event_id >= FINAL_EVENT_ID:
        raise HTTPException(status_code=204)
    return meta


@app.get(
    "/tasks/{task_id}/events",
    response_class=EventSourceResponse,
    responses={**UNKNOWN_ID, 204: {"description": "The client has the final event already"}},
)
async def task_events(
    request: Request,
    task_id: str,
    meta: Annotated[dict[str, Any], Depends(unseen_meta)],
    last_event_id: Annotated[int | None, Header()] = None,
) -> AsyncIterator[ServerSentEvent]:
    """An event per state change and per step, ending after the final state. FastAPI encodes
    each event and sends a keep-alive comment every 15 s of silence (fastapi/sse.py)."""
    sent = -1 if last_event_id is None else last_event_id
    pause = EVENTS_POLL_SECONDS
    while True:
        number = event_id(meta)
        if number > sent:
            yield ServerSentEvent(data=task_from_meta(task_id, meta), id=str(number))
            sent, pause = number, EVENTS_POLL_SECONDS
        else:
            pause = min(pause * 2, EVENTS_IDLE_POLL_SECONDS)
        if meta["status"] in FINAL_STATES or meta["status"] not in STATUSES:
            return
        # Streams opened together would read together, a burst that queues every request
        # behind it in the thread pool; a little randomness spreads them out.
        await anyio.sleep(pause * random.uniform(0.75, 1.25))
        # The backend's clients block: read in a worker thread, not on the event loop.
        meta = await anyio.to_thread.run_sync(
            celery_app.backend.get_task_meta, task_id, limiter=request.app.state.stream_reads
        )


# --8<-- [end:events]


@app.get("/", response_class=HTMLResponse, include_in_schema=False)
def live_page() -> str:
    return LIVE_PAGE.read_text(encoding="utf-8")
