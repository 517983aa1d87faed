"""Client side: send requests over HTTP from a number of concurrent clients and time each one."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

REQUEST_TIMEOUT = 120.0  # a stage-1 POST or a starved GET /status waits for whole jobs


@dataclass(frozen=True)
class Timed:
    index: int  # the request's place in the run
    sent: float  # time.monotonic() when the request was sent
    seconds: float  # until the whole response had arrived
    response: httpx.Response


@dataclass(frozen=True)
class Latency:
    p50: float
    p99: float
    count: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> Latency:
        return cls(percentile(samples, 50), percentile(samples, 99), len(samples))


def percentile(samples: Sequence[float], percent: float) -> float:
    """Nearest-rank percentile: a value that was actually measured, never an interpolation."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = math.ceil(percent / 100 * len(ordered))
    return ordered[max(rank, 1) - 1]


def send_timed(
    url: str,
    method: str,
    path: str | Callable[[int], str],
    count: int,
    concurrency: int,
) -> list[Timed]:
    """`count` requests from `concurrency` clients, each sending its next one when answered.

    `path` may depend on the request's index (to ask about a different task each time).
    Every response must be a success: a benchmark of errors would measure nothing.
    """
    path_for = path if callable(path) else (lambda _index: path)
    results: list[Timed] = []
    next_index = iter(range(count))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def all_clients() -> None:
        async with httpx.AsyncClient(
            base_url=url, limits=limits, timeout=REQUEST_TIMEOUT
        ) as client:

            async def one_client() -> None:
                for index in next_index:  # clients share the iterator: each index is sent once
                    sent = time.monotonic()
                    response = await client.request(method, path_for(index))
                    results.append(Timed(index, sent, time.monotonic() - sent, response))
                    response.raise_for_status()

            await asyncio.gather(*(one_client() for _ in range(min(concurrency, count))))

    asyncio.run(all_clients())
    return sorted(results, key=lambda timed: timed.index)
