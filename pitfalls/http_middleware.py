"""Pitfall 13: `@app.middleware("http")` and background tasks.

Stage 2's endpoint and job, unchanged, behind an `@app.middleware("http")` (Starlette's
BaseHTTPMiddleware), plus a streamed response with the same background task. Starlette's
BaseHTTPMiddleware has, over the years, made responses wait for their background tasks or run
them before the body's last byte (starlette #919, #1438, #2093); the test guards that the pinned
Starlette sends the whole response first.
"""

from collections.abc import Awaitable, Callable, Iterator

from fastapi import BackgroundTasks, FastAPI, Request, Response
from fastapi.responses import StreamingResponse

from step2_background.app import long_task, very_long_task  # stage 2's endpoint and job

MIDDLEWARE_IN = "Middleware: request in"
MIDDLEWARE_OUT = "Middleware: response out"
CHUNKS = 3

app = FastAPI()
app.post("/long_task")(long_task)


# --8<-- [start:middleware]
@app.middleware("http")
async def log_requests(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    print(MIDDLEWARE_IN)
    response = await call_next(request)
    print(MIDDLEWARE_OUT)
    return response


# --8<-- [end:middleware]


# --8<-- [start:streamed]
def chunks() -> Iterator[bytes]:
    for number in range(CHUNKS):
        yield f"chunk {number}\n".encode()


@app.post("/streamed_task")
def streamed_task(background_tasks: BackgroundTasks) -> StreamingResponse:
    background_tasks.add_task(very_long_task)
    return StreamingResponse(chunks(), media_type="text/plain")


# --8<-- [end:streamed]
