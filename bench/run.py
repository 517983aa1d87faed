"""The four measurements, stage by stage, each on a server started for it (see serving.py)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from bench.measure import Latency, Timed, send_timed
from bench.serving import Deployment
from bench.stages import Stage
from bench.targets import EMPTY_PATH

TASKS_PER_MEMORY_FIGURE = 10_000
SETTLE_SECONDS = 5.0  # wait this long for jobs in flight to end before starting afresh
WARM_UP_REQUESTS = 10


@dataclass(frozen=True)
class Sizes:
    latency_requests: int = 200
    latency_clients: int = 50
    # Short jobs, so the POST figures measure the hand-off, not a full thread pool: the pool's
    # limit is what the /status and wall-time figures show.
    latency_job_seconds: float = 0.05
    status_levels: tuple[int, ...] = (0, 39, 100)
    status_requests: int = 100
    status_clients: int = 10
    # Long enough that every job is still in flight while the clients poll.
    status_job_seconds: float = 2.0
    wall_jobs: int = 100
    wall_job_seconds: float = 0.25
    # Jobs that end at once: only what each finished task leaves behind can grow the RSS.
    memory_job_seconds: float = 0.0
    memory_tasks: int = TASKS_PER_MEMORY_FIGURE
    memory_warmup_tasks: int = 1_000  # fills the thread pool and caches before the first RSS
    memory_clients: int = 20


# The smoke test's sizes: every measurement runs, on one job length so each stage is served
# once (twice for a worker's second concurrency); the figures mean nothing at this size.
QUICK = Sizes(
    latency_requests=10,
    latency_clients=4,
    latency_job_seconds=0.05,
    status_levels=(0, 4, 10),
    status_requests=10,
    status_clients=2,
    status_job_seconds=0.05,
    wall_jobs=4,
    wall_job_seconds=0.05,
    memory_job_seconds=0.05,
    memory_tasks=100,
    memory_warmup_tasks=20,
    memory_clients=10,
)


@dataclass(frozen=True)
class PostLatency:
    stage: Stage
    clients: int
    task: Latency  # POST /long_task
    empty: Latency  # POST /empty on the same server

    @property
    def p50_ratio(self) -> float:
        return self.task.p50 / self.empty.p50


@dataclass(frozen=True)
class StatusLatency:
    stage: Stage
    jobs_in_flight: int  # counted when the polling started
    latency: Latency


@dataclass(frozen=True)
class WallTime:
    stage: Stage
    worker_concurrency: int | None
    jobs: int
    job_seconds: float
    seconds: float  # from the first POST sent to the last job's "ending" console line


@dataclass(frozen=True)
class MemoryGrowth:
    stage: Stage
    tasks: int
    rss: tuple[int, ...]  # before, after the first half of the tasks, after all of them

    @property
    def per_memory_figure(self) -> float:
        """Bytes of RSS growth per TASKS_PER_MEMORY_FIGURE finished tasks."""
        return (self.rss[-1] - self.rss[0]) * TASKS_PER_MEMORY_FIGURE / self.tasks


@dataclass
class Results:
    sizes: Sizes
    stages: tuple[Stage, ...]
    started: float = field(default_factory=time.time)
    load_at_start: float = field(default_factory=lambda: os.getloadavg()[0])
    load_at_end: float = 0.0
    seconds: float = 0.0
    post: list[PostLatency] = field(default_factory=list)
    status: list[StatusLatency] = field(default_factory=list)
    wall: list[WallTime] = field(default_factory=list)
    memory: list[MemoryGrowth] = field(default_factory=list)


Progress = Callable[[str], None]


class Deployments:
    """Serves one stage at a time; reuses the running deployment when it fits and is idle."""

    def __init__(self) -> None:
        self.current: Deployment | None = None

    @contextmanager
    def serving(
        self, stage: Stage, job_seconds: float, concurrency: int | None = None
    ) -> Iterator[Deployment]:
        current = self.current
        reusable = (
            current is not None
            and (current.stage, current.job_seconds, current.concurrency)
            == (stage, job_seconds, concurrency or stage.default_concurrency)
            and current.settle(SETTLE_SECONDS)
        )
        if not reusable:
            self.stop()
            self.current = Deployment(stage, job_seconds, concurrency)
        assert self.current is not None
        yield self.current

    def stop(self) -> None:
        if self.current is not None:
            self.current.stop()
            self.current = None


def submit_jobs(deployment: Deployment, count: int, clients: int) -> list[Timed]:
    """POST /long_task `count` times from `clients` clients, counting the jobs handed over."""
    timed = send_timed(deployment.url, "POST", "/long_task", count, clients)
    deployment.submitted += count
    return timed


def task_ids(submitted: list[Timed]) -> list[str]:
    """The ids the POSTs answered (stage 3 on: the body is the id as a JSON string)."""
    return [answer.response.json() for answer in submitted]


def measure_post(
    deployments: Deployments, stage: Stage, sizes: Sizes, progress: Progress
) -> list[PostLatency]:
    results = []
    for clients in (1, sizes.latency_clients):
        with deployments.serving(stage, sizes.latency_job_seconds) as deployment:
            # Untimed first requests: the first ones to a fresh server pay for imports and
            # connection setup, which no later request does.
            send_timed(deployment.url, "POST", EMPTY_PATH, WARM_UP_REQUESTS, clients)
            submit_jobs(deployment, WARM_UP_REQUESTS, clients)
            empty = send_timed(deployment.url, "POST", EMPTY_PATH, sizes.latency_requests, clients)
            task = submit_jobs(deployment, sizes.latency_requests, clients)
        latency = PostLatency(
            stage,
            clients,
            task=Latency.of([timed.seconds for timed in task]),
            empty=Latency.of([timed.seconds for timed in empty]),
        )
        progress(
            f"POST /long_task, {clients} client(s): p50 {ms(latency.task.p50)}, "
            f"p99 {ms(latency.task.p99)}; empty p50 {ms(latency.empty.p50)} "
            f"(ratio {latency.p50_ratio:.1f})"
        )
        results.append(latency)
    return results


def measure_status(
    deployments: Deployments, stage: Stage, sizes: Sizes, progress: Progress
) -> list[StatusLatency]:
    results = []
    for level in sizes.status_levels:
        with deployments.serving(stage, sizes.status_job_seconds) as deployment:
            if level == 0:
                # Idle: ask about jobs that have already ended.
                ids = task_ids(submit_jobs(deployment, sizes.status_clients, sizes.status_clients))
                deployment.wait_for_endings(
                    deployment.submitted, job_timeout(sizes, sizes.status_clients)
                )
            else:
                # All at once, as `level` users clicking together: in stages 2-4 the POST
                # endpoints then run before the jobs take the thread pool.
                ids = task_ids(submit_jobs(deployment, level, level))
            in_flight = deployment.in_flight()
            polls = send_timed(
                deployment.url,
                "GET",
                lambda index, ids=ids: f"/status?task_id={ids[index % len(ids)]}",
                sizes.status_requests,
                sizes.status_clients,
            )
        latency = Latency.of([timed.seconds for timed in polls])
        progress(
            f"GET /status, {in_flight} jobs in flight: p50 {ms(latency.p50)}, p99 {ms(latency.p99)}"
        )
        results.append(StatusLatency(stage, in_flight, latency))
    return results


def measure_wall(
    deployments: Deployments, stage: Stage, sizes: Sizes, progress: Progress
) -> list[WallTime]:
    results = []
    for concurrency in stage.worker_concurrencies or (None,):
        with deployments.serving(stage, sizes.wall_job_seconds, concurrency) as deployment:
            ended_before = deployment.endings.count()
            # Every job at once: one client each, as 100 users clicking together.
            timed = submit_jobs(deployment, sizes.wall_jobs, sizes.wall_jobs)
            first_sent = min(answer.sent for answer in timed)
            deployment.wait_for_endings(ended_before + sizes.wall_jobs, wall_timeout(sizes))
            last_ended = max(deployment.endings.times[ended_before:])
        wall = WallTime(
            stage, concurrency, sizes.wall_jobs, sizes.wall_job_seconds, last_ended - first_sent
        )
        workers = f" with worker concurrency {concurrency}" if concurrency else ""
        progress(
            f"{sizes.wall_jobs} jobs of {sizes.wall_job_seconds:g} s{workers}: all ended after "
            f"{wall.seconds:.2f} s ({wall.seconds / wall.job_seconds:.1f} x the job)"
        )
        results.append(wall)
    return results


def measure_memory(
    deployments: Deployments, stage: Stage, sizes: Sizes, progress: Progress
) -> MemoryGrowth:
    # RSS halfway too: a store that grows per task grows in both halves; a cache filling up
    # (SQLite's pages, SQLAlchemy's statements) grows in the first half only.
    half = sizes.memory_tasks // 2
    with deployments.serving(stage, sizes.memory_job_seconds) as deployment:
        rss = []  # after the warm-up, after half the tasks, after all of them
        for count in (sizes.memory_warmup_tasks, half, sizes.memory_tasks - half):
            submit_jobs(deployment, count, sizes.memory_clients)
            deployment.wait_for_endings(deployment.submitted, 60 + count / 10)
            rss.append(deployment.rss_bytes())
    growth = MemoryGrowth(stage, sizes.memory_tasks, tuple(rss))
    progress(
        f"memory: RSS {' → '.join(mib(size) for size in rss)} after {sizes.memory_warmup_tasks} "
        f"+ {half} + {sizes.memory_tasks - half} tasks "
        f"({mib(growth.per_memory_figure)} per {TASKS_PER_MEMORY_FIGURE:,})"
    )
    return growth


def job_timeout(sizes: Sizes, jobs: int) -> float:
    return 60 + jobs * sizes.status_job_seconds


def wall_timeout(sizes: Sizes) -> float:
    return 60 + sizes.wall_jobs * sizes.wall_job_seconds * 2


def run(stages: tuple[Stage, ...], sizes: Sizes, progress: Progress) -> Results:
    results = Results(sizes, stages)
    deployments = Deployments()
    try:
        for position, stage in enumerate(stages, start=1):

            def stage_progress(
                message: str, where: str = f"[{position}/{len(stages)} {stage.package}]"
            ) -> None:
                progress(f"{where} {message}")

            stage_progress("serving ...")
            results.post += measure_post(deployments, stage, sizes, stage_progress)
            if stage.post_only:
                continue
            if stage.has_status:
                results.status += measure_status(deployments, stage, sizes, stage_progress)
            results.wall += measure_wall(deployments, stage, sizes, stage_progress)
            if stage.measure_memory:
                results.memory.append(measure_memory(deployments, stage, sizes, stage_progress))
    finally:
        deployments.stop()
    results.seconds = time.time() - results.started
    results.load_at_end = os.getloadavg()[0]
    return results


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def mib(size: float) -> str:
    return f"{size / 2**20:.1f} MiB"
