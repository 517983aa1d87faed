"""Stage 1 - blocking: the job runs inside the request, so the client waits for it."""

import os
import time

from fastapi import FastAPI

# Each console line is defined once; the tests and the docs read these names.
ENTERING = "Entering endpoint"
STARTING = "Starting long task"
ENDING = "Ending long task"
EXITING = "Exiting endpoint"

app = FastAPI()


def job_seconds() -> float:
    """How long the job sleeps: TASK_SECONDS, read when the job runs (default 5)."""
    raw = os.environ.get("TASK_SECONDS", "5")
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"TASK_SECONDS must be a number of seconds, got {raw!r}") from None


# --8<-- [start:job]
def very_long_task() -> None:
    print(STARTING)
    time.sleep(job_seconds())
    if os.environ.get("TASK_FAIL") == "1":
        raise RuntimeError("TASK_FAIL=1: the long task fails on purpose")
    print(ENDING)
    # --8<-- [end:job]


# --8<-- [start:endpoint]
# A plain `def` endpoint: FastAPI runs it in a worker thread, so while this request
# sleeps, other requests are still served (but this client waits the whole job).
@app.post("/long_task")
def long_task() -> dict[str, str]:
    print(ENTERING)
    very_long_task()
    print(EXITING)
    return {"status": "long task completed"}
    # --8<-- [end:endpoint]
