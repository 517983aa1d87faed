"""Pitfall 6: a background job that raises is invisible to the client.

POST /long_task works like stage 3's (it shares stage 3's dict and GET /status), but its job
lacks stage 3's try/except: the job raises, and its status says "running" forever.
POST /two_tasks adds two tasks to one response; the first raises, so the second never runs.
"""

import uuid

from fastapi import BackgroundTasks, FastAPI

from step3_status.app import status, tasks  # stage 3's dict and GET /status, unchanged

STARTING = "Starting long task"
FIRST = "First task starts, then raises"
SECOND = "Second task runs"

app = FastAPI()
app.get("/status")(status)


# --8<-- [start:uncaught]
def very_long_task(task_id: str) -> None:
    print(f"{STARTING} {task_id}")
    raise RuntimeError("the long task fails")  # no try/except: nobody records "failed"


@app.post("/long_task")
def long_task(background_tasks: BackgroundTasks) -> str:
    task_id = str(uuid.uuid4())
    tasks[task_id] = "running"
    background_tasks.add_task(very_long_task, task_id)
    return task_id


# --8<-- [end:uncaught]


# --8<-- [start:chain]
def first_task() -> None:
    print(FIRST)
    raise RuntimeError("the first task fails")


def second_task() -> None:
    print(SECOND)  # never printed: the tasks run one after another and stop at the first error


@app.post("/two_tasks")
def two_tasks(background_tasks: BackgroundTasks) -> str:
    background_tasks.add_task(first_task)
    background_tasks.add_task(second_task)
    return "started"


# --8<-- [end:chain]
