"""Pitfall 14: async code inside a Celery task.

uvicorn pitfalls.celery_asyncio:upstream                   the HTTP service the jobs call
celery -A pitfalls.celery_asyncio worker --concurrency 1   the worker (UPSTREAM_URL names it)

Celery 5.7 calls a task's function and takes what it returns as the job's result, so an
`async def` task returns a coroutine that nobody runs. The usual way round is `asyncio.run()`
in a plain task, which runs each job on a new event loop and closes that loop at the end: a
client made once per process (at import, or by the first job) is then used, from the second
job on, under a loop that is not the one its connections were made on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time

import httpx
from celery import Task, signals
from fastapi import FastAPI

from pitfalls.folder_queue import folder_app

UPSTREAM_URL = os.environ.get("UPSTREAM_URL", "http://127.0.0.1:8000")
STARTING = "Starting job"
ASKING = "Asking for the price"
CPU_USED = "Job CPU"

upstream = FastAPI()


@upstream.get("/price")
async def price() -> int:
    return 42


celery_app = folder_app("pitfalls.celery_asyncio")


# --8<-- [start:async_def]
@celery_app.task
async def price_from_async_task() -> int:
    print(ASKING)
    async with httpx.AsyncClient(base_url=UPSTREAM_URL) as http:
        return int((await http.get("/price")).json())


# --8<-- [end:async_def]
# --8<-- [start:shared_client]
client = httpx.AsyncClient(base_url=UPSTREAM_URL)  # one client per process, made at import


async def fetch_price(http: httpx.AsyncClient) -> int:
    print(ASKING)
    response = await http.get("/price")
    return int(response.json())


@celery_app.task
def price_with_shared_client() -> int:
    return asyncio.run(fetch_price(client))  # a new event loop for each job


# --8<-- [end:shared_client]
# --8<-- [start:client_per_job]
async def fetch_price_with_own_client() -> int:
    async with httpx.AsyncClient(base_url=UPSTREAM_URL) as http:  # made and closed in this loop
        return await fetch_price(http)


@celery_app.task
def price_with_client_per_job() -> int:
    return asyncio.run(fetch_price_with_own_client())


# --8<-- [end:client_per_job]
# --8<-- [start:loop_per_process]
runner: asyncio.Runner | None = None  # each pool process makes its own when it starts
process_client: httpx.AsyncClient | None = None


@signals.worker_process_init.connect
def start_process_loop(**_: object) -> None:
    global runner, process_client
    runner = asyncio.Runner()
    process_client = httpx.AsyncClient(base_url=UPSTREAM_URL)


@signals.worker_process_shutdown.connect
def stop_process_loop(**_: object) -> None:
    if runner is not None and process_client is not None:
        runner.run(process_client.aclose())
        runner.close()


@celery_app.task
def price_on_process_loop() -> int:
    assert runner is not None and process_client is not None
    return runner.run(fetch_price(process_client))  # every job on the process's one loop


# --8<-- [end:loop_per_process]
# What each job costs its pool process in CPU, logged beside Celery's own "succeeded in" (as a
# log line, like Celery's: a console block on the docs page may leave it out).
logger = logging.getLogger(__name__)
_cpu_at_start: dict[str, float] = {}


@signals.task_prerun.connect
def note_cpu_at_start(task_id: str, task: Task, **_: object) -> None:
    sys.stdout.write(f"{STARTING} {task.name}\n")  # one write: a line never splits
    _cpu_at_start[task_id] = time.process_time()


@signals.task_postrun.connect
def print_cpu_used(task_id: str, task: Task, **_: object) -> None:
    used = time.process_time() - _cpu_at_start.pop(task_id, time.process_time())
    logger.info("%s: %s %.3f ms", CPU_USED, task.name, used * 1000)
