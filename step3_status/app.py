"""Stage 3 - status: each job gets an id, and GET /status reports it from an in-memory dict."""

import os
import time
import uuid

from fastapi import BackgroundTasks, FastAPI, HTTPException

# Each console line is defined once; the tests and the docs read these names.
ENTERING = "Entering endpoint"
STARTING = "Starting long task"
ENDING = "Ending long task"
FAILED = "Long task failed"
EXITING = "Exiting endpoint"

app = FastAPI()

# --8<-- [start:store]
# task id -> "running" | "completed" | "failed". Lives in this process only: it is
# lost on restart, not shared between workers, and never shrinks (see Pitfalls).
tasks: dict[str, str] = {}
# --8<-- [end:store]


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
        print(STARTING)
        time.sleep(job_seconds())
        if os.environ.get("TASK_FAIL") == "1":
            raise RuntimeError("TASK_FAIL=1: the long task fails on purpose")
        tasks[task_id] = "completed"
        print(ENDING)
    except Exception as error:
        # Without this, the client would never learn the job failed: it already has its 200.
        tasks[task_id] = "failed"
        print(f"{FAILED}: {error}")
        # --8<-- [end:job]


# --8<-- [start:endpoint]
@app.post("/long_task")
def long_task(background_tasks: BackgroundTasks) -> str:
    print(ENTERING)
    # uuid1, as in the article: it embeds this machine's MAC address and the time (see Pitfalls).
    task_id = str(uuid.uuid1())
    tasks[task_id] = "running"
    background_tasks.add_task(very_long_task, task_id)
    print(EXITING)
    return task_id
    # --8<-- [end:endpoint]


# --8<-- [start:status]
@app.get("/status")
def status(task_id: str) -> str:
    if task_id not in tasks:
        raise HTTPException(status_code=404, detail="Item not found")
    return tasks[task_id]
    # --8<-- [end:status]
