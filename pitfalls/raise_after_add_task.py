"""Pitfall 7: an endpoint that raises after `add_task` never runs the task.

Background tasks belong to the response the endpoint returns. When the endpoint raises instead,
the error response is a different one, built by an exception handler, with no tasks attached.
"""

from fastapi import BackgroundTasks, FastAPI, HTTPException

SENDING = "Sending confirmation for"

app = FastAPI()


def send_confirmation(order: str) -> None:
    print(f"{SENDING} {order}")


# --8<-- [start:endpoint]
@app.post("/orders")
def create_order(order: str, background_tasks: BackgroundTasks, fail: bool = False) -> str:
    background_tasks.add_task(send_confirmation, order)
    if fail:
        # e.g. saving the order failed after the task was queued: the task is dropped.
        raise HTTPException(status_code=500, detail="saving the order failed")
    return order


# --8<-- [end:endpoint]
