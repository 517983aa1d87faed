"""Pitfall 1: in-process test clients return only after the background tasks have run.

Both clients call the ASGI app directly and await the whole call; Starlette runs background
tasks inside that call, after sending the response, so the client waits for them too.
"""

import asyncio
import time

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient


# --8<-- [start:clients]
def seconds_for_post_with_asgi_transport(app: FastAPI, path: str) -> float:
    """POST through httpx.ASGITransport, in this process: how long until the response arrives."""

    async def post() -> float:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://in-process") as client:
            started = time.monotonic()
            (await client.post(path)).raise_for_status()
            return time.monotonic() - started

    return asyncio.run(post())


def seconds_for_post_with_test_client(app: FastAPI, path: str) -> float:
    """POST through Starlette's TestClient, in this process: how long until it returns."""
    with TestClient(app) as client:
        started = time.monotonic()
        client.post(path).raise_for_status()
        return time.monotonic() - started


# --8<-- [end:clients]
