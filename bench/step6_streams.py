"""Stage 6 under watch: open event streams while jobs run, next to an API nobody watches.

python -m bench.step6_streams [--streams 100] [--jobs 100] [--window 5] [--redis] [--write]

One API process and one Celery worker (4 processes) on the embedded queue (`--redis` for
Redis). First idle: `GET /status` latency and the API's CPU with no job and no stream. Then
`--jobs` jobs are posted and a stream opened for each (`--streams`): the same `GET /status`
latency and the API's CPU while they are open (CPU over `--window` seconds of nothing else).
The API's CPU divided by the streams open is what each watcher costs. With `--write` the table
goes to docs/step6/streams-embedded.md (or -redis.md), which the stage-6 page includes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from bench.charts import stamp
from bench.measure import Latency, send_timed
from bench.stages import REDIS_URL
from uvicorn_harness import queue_deployments
from uvicorn_harness.server import REPO_ROOT, RunningServer, running_server, wait_until

PAGE_TABLES = {
    "embedded queue": REPO_ROOT / "docs" / "step6" / "streams-embedded.md",
    "Redis": REPO_ROOT / "docs" / "step6" / "streams-redis.md",
}
STAGE = "step6_progress"
WORKER_PROCESSES = 4
# In the Redis key prefix and the worker's name, so a stray one says whose it is.
LABEL = "bench-streams"
STATUS_REQUESTS = 1000  # sequential GET /status in each phase: p99 is the 10th slowest


@dataclass(frozen=True)
class Sizes:
    streams: int = 100
    jobs: int = 100
    job_seconds: float = 60.0  # long: every job is still queued or running when measured
    window: float = 5.0  # seconds of CPU measured
    requests: int = STATUS_REQUESTS


@dataclass(frozen=True)
class Phase:
    label: str
    streams: int
    status: Latency
    cpu_percent: float  # the API process's CPU over the phase, in % of one core


def settings(folder: Path, redis: bool) -> dict[str, str]:
    if redis:
        return queue_deployments.on_redis(REDIS_URL, LABEL, folder / "queue")
    return queue_deployments.in_a_folder(folder / "queue")


@contextmanager
def deployment(env: dict[str, str]) -> Iterator[RunningServer]:
    """The worker and the API, stopped when the block ends."""
    node = queue_deployments.worker_node(LABEL, STAGE)
    with ExitStack() as stack:
        # Stopped with SIGKILL: its jobs run for a minute, and nothing waits for their end.
        worker_server = running_server(
            command=queue_deployments.worker_command(STAGE, WORKER_PROCESSES, node),
            env=env,
            ready_line=queue_deployments.ready_line(node),
            serves_http=False,
            timeout=60,
            stop_signal=signal.SIGKILL,
        )
        stack.enter_context(worker_server)
        api = stack.enter_context(
            running_server(f"{STAGE}.app:app", args=["--no-access-log"], env=env)
        )
        yield api


def status_latency(api: RunningServer, task_id: str, requests: int) -> Latency:
    timed = send_timed(api.url, "GET", f"/status?task_id={task_id}", requests, 1)
    return Latency.of([sample.seconds for sample in timed])


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def measure_phase(
    label: str, api: RunningServer, task_id: str, streams: int, sizes: Sizes
) -> Phase:
    """The API's CPU over `window` seconds in which nobody but the streams asks it anything,
    then the latency of sequential `GET /status` requests."""
    process = psutil.Process(api.pid)
    began, cpu_before = time.monotonic(), cpu_seconds(process)
    time.sleep(sizes.window)  # a measuring window, not a wait for anything
    cpu = (cpu_seconds(process) - cpu_before) / (time.monotonic() - began) * 100
    return Phase(label, streams, status_latency(api, task_id, sizes.requests), cpu)


class Watchers:
    """An event stream per task id, held open from a thread of its own (one asyncio loop)."""

    def __init__(self, url: str, task_ids: list[str]) -> None:
        self.url, self.task_ids = url, task_ids
        self.open = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watching: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._watch()), daemon=True)

    def __enter__(self) -> Watchers:
        self._thread.start()
        wait_until(lambda: self.open == len(self.task_ids), 60, "every stream to open")
        return self

    def __exit__(self, *_: object) -> None:
        # A stream may send nothing for seconds: cancel the reads instead of waiting for a line.
        if self._loop is not None and self._watching is not None:
            self._loop.call_soon_threadsafe(self._watching.cancel)
        self._thread.join(30)

    async def _watch(self) -> None:
        self._loop = asyncio.get_running_loop()
        limits = httpx.Limits(max_connections=len(self.task_ids) + 10)
        async with httpx.AsyncClient(base_url=self.url, limits=limits, timeout=120) as client:
            streams = asyncio.gather(*(self._one(client, task_id) for task_id in self.task_ids))
            self._watching = asyncio.ensure_future(streams)
            with contextlib.suppress(asyncio.CancelledError):
                await self._watching

    async def _one(self, client: httpx.AsyncClient, task_id: str) -> None:
        async with client.stream("GET", f"/tasks/{task_id}/events") as response:
            self.open += 1
            async for _ in response.aiter_lines():
                pass


def run(sizes: Sizes, redis: bool) -> list[Phase]:
    streams, jobs = sizes.streams, sizes.jobs
    with tempfile.TemporaryDirectory(prefix="bench-streams-") as folder:
        env = {**settings(Path(folder), redis), "TASK_SECONDS": str(sizes.job_seconds)}
        try:
            with deployment(env) as api, httpx.Client(base_url=api.url) as client:
                asked = client.post("/long_task").json()  # the id GET /status asks about
                idle = measure_phase("idle: no job, no stream", api, asked, 0, sizes)
                task_ids = [client.post("/long_task").json() for _ in range(jobs)]
                with Watchers(api.url, task_ids[:streams]):
                    label = f"{streams} streams open, {jobs} jobs queued or running"
                    busy = measure_phase(label, api, asked, streams, sizes)
                return [idle, busy]
        finally:
            queue_deployments.remove_space(env)


def render(phases: list[Phase], broker: str) -> str:
    idle, busy = phases
    per_stream = (busy.cpu_percent - idle.cpu_percent) / max(busy.streams, 1)
    lines = [
        stamp(f"Measured by `python -m bench.step6_streams` ({broker})"),
        "",
        "| load | `GET /status` p50 | p99 | API process CPU |",
        "|---|---|---|---|",
    ]
    for phase in phases:
        lines.append(
            f"| {phase.label} | {phase.status.p50 * 1000:.1f} ms | "
            f"{phase.status.p99 * 1000:.1f} ms | {phase.cpu_percent:.0f} % |"
        )
    lines += [
        "",
        f"p99 with the streams open: **{busy.status.p99 / idle.status.p99:.1f}\u00d7** idle. "
        f"CPU per open stream: **{per_stream:.2f} %** of a core "
        f"(each reads its job's state 0.2 s after a change, then ever less often, down to once "
        f"a second while the job waits).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.step6_streams", description=__doc__)
    default = Sizes()
    parser.add_argument("--streams", type=int, default=default.streams)
    parser.add_argument("--jobs", type=int, default=default.jobs)
    parser.add_argument("--job-seconds", type=float, default=default.job_seconds)
    parser.add_argument("--window", type=float, default=default.window, help="CPU seconds")
    parser.add_argument("--requests", type=int, default=default.requests, help="GET /status")
    parser.add_argument("--redis", action="store_true", help=f"broker and results at {REDIS_URL}")
    parser.add_argument("--write", action="store_true", help="store the table the page shows")
    args = parser.parse_args(argv)
    sizes = Sizes(args.streams, args.jobs, args.job_seconds, args.window, args.requests)
    phases = run(sizes, args.redis)
    broker = "Redis" if args.redis else "embedded queue"
    table = render(phases, broker)
    print(table)
    if args.write:
        PAGE_TABLES[broker].parent.mkdir(parents=True, exist_ok=True)
        PAGE_TABLES[broker].write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()
