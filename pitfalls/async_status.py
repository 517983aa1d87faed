"""Pitfall 3, fix 1: stage 3 with `async def status`, so reading the dict needs no worker thread.

The job and POST /long_task are stage 3's own, imported unchanged; only GET /status differs.
"""

from fastapi import FastAPI, HTTPException

from step3_status.app import long_task, tasks

app = FastAPI()
app.post("/long_task")(long_task)


# --8<-- [start:status]
# `async def` runs on the event loop, not in anyio's thread pool, so it never queues behind
# the jobs. Safe only because it never blocks: a dict lookup, no I/O.
@app.get("/status")
async def status(task_id: str) -> str:
    if task_id not in tasks:
        raise HTTPException(status_code=404, detail="Item not found")
    return tasks[task_id]


# --8<-- [end:status]
