"""Pitfall 13: `@app.middleware("http")` and background tasks.

Stage 2's endpoint and job, unchanged, behind an `@app.middleware("http")` (Starlette's
BaseHTTPMiddleware), plus two more responses with the same background task: a streamed one,
and a report of several MB. Starlette's BaseHTTPMiddleware has, over the years, made responses
wait for their background tasks or run them before the body's last byte (starlette #919,
#1438, #2093, and #3458 in 1.6.0: the task started as soon as the response had handed its body
to the middleware, while a slow client was still reading it). The tests guard that the pinned
Starlette sends the whole response first.
"""

from collections.abc import Awaitable, Callable, Iterator

from fastapi import BackgroundTasks, FastAPI, Request, Response
from fastapi.responses import StreamingResponse

from step2_background.app import long_task, very_long_task  # stage 2's endpoint and job

MIDDLEWARE_IN = "Middleware: request in"
MIDDLEWARE_OUT = "Middleware: response out"
CHUNKS = 3
# Several times what the kernel buffers for one socket (Linux: up to 4 MB by default).
REPORT_BYTES = 16 * 1024 * 1024

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


# --8<-- [start:report]
@app.post("/report_task")
def report_task(background_tasks: BackgroundTasks) -> Response:
    background_tasks.add_task(very_long_task)
    return Response(b"x" * REPORT_BYTES, media_type="application/octet-stream")


# --8<-- [end:report]
