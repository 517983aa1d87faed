"""Pitfall 3, fix 2: stage 3 unchanged, with anyio's thread limiter raised at startup.

The job, POST /long_task and GET /status are stage 3's own, imported unchanged.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from step3_status.app import long_task, status

THREAD_TOKENS = 100


# --8<-- [start:lifespan]
@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # The default limiter (40 tokens) belongs to the running event loop: set it from inside
    # the loop, at startup. Every sync endpoint, dependency and background job draws from it.
    anyio.to_thread.current_default_thread_limiter().total_tokens = THREAD_TOKENS
    yield


# --8<-- [end:lifespan]


app = FastAPI(lifespan=lifespan)
app.post("/long_task")(long_task)
app.get("/status")(status)
