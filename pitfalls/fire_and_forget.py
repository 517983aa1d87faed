"""Pitfall 12: `asyncio.create_task` instead of `BackgroundTasks`.

The event loop keeps only a weak reference to a task (asyncio/tasks.py: `_all_tasks` is a
WeakSet), so a task that nobody else references, waiting on something only it references,
is garbage. uvicorn knows nothing of such tasks: on SIGTERM it waits for open connections
(and so for BackgroundTasks, which run inside the request), then, once `serve()` is done,
restores the default handler and raises the signal again (uvicorn/server.py,
`capture_signals`: `signal.raise_signal(captured_signal)`), so the process dies of SIGTERM
before the loop could even cancel the task: no CancelledError, no `finally`, no line.
"""

import asyncio
import gc
import os

from fastapi import FastAPI

STARTING = "Job starts"
ENDING = "Job ends"
CANCELLED = "Job cancelled"
CLOSED = "Job closed before its reply came"
DESTROYED = "Task was destroyed but it is pending!"  # asyncio's own words, in Task.__del__
NEVER_RETRIEVED = "Task exception was never retrieved"  # likewise

app = FastAPI()


def job_seconds() -> float:
    return float(os.environ.get("TASK_SECONDS", "5"))


# --8<-- [start:vanishing]
async def wait_for_a_reply() -> None:
    print(STARTING)
    reply = asyncio.get_running_loop().create_future()  # e.g. a reply that a callback would set
    try:
        await reply  # only this task holds `reply`, and only `reply` holds this task
    finally:
        print(CLOSED)  # runs when the garbage collector closes the coroutine


@app.post("/vanishing")
async def vanishing() -> str:
    # ruff's RUF006 flags exactly this pitfall; kept here to show it.
    asyncio.create_task(wait_for_a_reply())  # noqa: RUF006 - the task is dropped on the floor
    return "started"


# --8<-- [end:vanishing]


@app.post("/collect")
def collect() -> int:
    """Run the garbage collector now, as it would run on its own at some point."""
    return gc.collect()


# --8<-- [start:failing]
async def failing_job() -> None:
    raise RuntimeError("the fire-and-forget job fails")


@app.post("/failing")
async def failing() -> str:
    asyncio.create_task(failing_job())  # noqa: RUF006 - nobody will ever await it
    return "started"


# --8<-- [end:failing]


# --8<-- [start:fix]
running_jobs: set[asyncio.Task[None]] = set()


async def sleeping_job() -> None:
    print(STARTING)
    try:
        await asyncio.sleep(job_seconds())
    except asyncio.CancelledError:
        print(CANCELLED)  # what SIGTERM does to it: uvicorn never waits for this task
        raise
    print(ENDING)


@app.post("/kept")
async def kept() -> str:
    task = asyncio.create_task(sleeping_job())
    running_jobs.add(task)  # a strong reference for as long as it runs
    task.add_done_callback(running_jobs.discard)
    return "started"


# --8<-- [end:fix]
