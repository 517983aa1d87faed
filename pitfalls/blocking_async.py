"""Pitfall 2: `async def` plus `time.sleep` freezes the whole server.

The same sleep written three ways, once in an endpoint and once in a background job. GET /ping
is the bystander: how long it takes while one of the sleeps runs shows whether the server froze.
"""

import asyncio
import os
import time
from collections.abc import Awaitable, Callable

from fastapi import BackgroundTasks, FastAPI, HTTPException

# Printed just before each sleep starts, followed by the sleeper's name.
SLEEPING = "Sleeping in"

app = FastAPI()


def job_seconds() -> float:
    """How long each sleep lasts: TASK_SECONDS, read when it runs (default 5)."""
    return float(os.environ.get("TASK_SECONDS", "5"))


@app.get("/ping")
async def ping() -> str:
    return "pong"


# --8<-- [start:endpoints]
@app.post("/endpoint/async_time_sleep")
async def async_endpoint_with_time_sleep() -> str:
    print(f"{SLEEPING} async_endpoint_with_time_sleep")
    time.sleep(job_seconds())  # blocks the event loop: no other request is served meanwhile
    return "done"


@app.post("/endpoint/def_time_sleep")
def def_endpoint_with_time_sleep() -> str:
    print(f"{SLEEPING} def_endpoint_with_time_sleep")
    time.sleep(job_seconds())  # a `def` endpoint runs in a worker thread: the loop stays free
    return "done"


@app.post("/endpoint/async_asyncio_sleep")
async def async_endpoint_with_asyncio_sleep() -> str:
    print(f"{SLEEPING} async_endpoint_with_asyncio_sleep")
    await asyncio.sleep(job_seconds())  # hands the loop back while it waits
    return "done"


# --8<-- [end:endpoints]


# --8<-- [start:jobs]
async def async_job_with_time_sleep() -> None:
    print(f"{SLEEPING} async_job_with_time_sleep")
    time.sleep(job_seconds())  # an async job runs on the event loop too: same freeze


def def_job_with_time_sleep() -> None:
    print(f"{SLEEPING} def_job_with_time_sleep")
    time.sleep(job_seconds())  # a `def` job runs in a worker thread, like stage 2's


async def async_job_with_asyncio_sleep() -> None:
    print(f"{SLEEPING} async_job_with_asyncio_sleep")
    await asyncio.sleep(job_seconds())


# --8<-- [end:jobs]


JOBS: dict[str, Callable[[], Awaitable[None] | None]] = {
    "async_time_sleep": async_job_with_time_sleep,
    "def_time_sleep": def_job_with_time_sleep,
    "async_asyncio_sleep": async_job_with_asyncio_sleep,
}


@app.post("/job/{kind}")
async def start_job(kind: str, background_tasks: BackgroundTasks) -> str:
    if kind not in JOBS:
        raise HTTPException(status_code=404, detail=f"no job {kind!r}; try one of {list(JOBS)}")
    background_tasks.add_task(JOBS[kind])
    return "started"
