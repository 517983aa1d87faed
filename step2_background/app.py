"""Stage 2 - background: the job is handed to BackgroundTasks; the response leaves at once."""

import os
import time

from fastapi import BackgroundTasks, FastAPI

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
# The task runs after the response has been sent, in the same process. A plain `def`
# job runs in a worker thread, so it does not block the event loop.
@app.post("/long_task")
def long_task(background_tasks: BackgroundTasks) -> dict[str, str]:
    print(ENTERING)
    background_tasks.add_task(very_long_task)
    print(EXITING)
    return {"status": "long task started"}
    # --8<-- [end:endpoint]
