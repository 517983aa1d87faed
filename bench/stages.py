"""The stages the benchmark serves, and what each one needs to run.

The stages are uvicorn_harness.stages.STAGES; this module says how each one is deployed. A stage
whose jobs run in Celery workers needs nothing here: it is served like stage 5, on Redis.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from uvicorn_harness import queue_deployments
from uvicorn_harness import stages as harness_stages
from uvicorn_harness.stages import runs_jobs_in_workers, stage_number, stage_topic

# The queue stages' broker and result store; .ci/run makes sure a Redis answers here.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
# Stage 5 on RabbitMQ too (results in Redis); .ci/run makes sure one answers here.
RABBITMQ_URL = os.environ.get("BENCH_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
# In every key prefix and queue name, so a stray one on a shared server says whose it is.
LABEL = "bench"


def no_settings(workdir: Path) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class Stage:
    package: str  # the stage folder, e.g. "step3_status"
    title: str  # how the tables name it
    has_status: bool = True  # serves GET /status?task_id=
    measure_memory: bool = True  # keeps (or deliberately doesn't keep) a record per task
    # Environment for one deployment, given a fresh scratch folder (database file, broker folder).
    settings: Callable[[Path], dict[str, str]] = no_settings
    # Undo what the deployment left outside its scratch folder (keys in a shared Redis).
    cleanup: Callable[[dict[str, str]], None] | None = None
    # A separate worker process runs the jobs: its command for a given concurrency.
    worker_command: Callable[[int], list[str]] | None = None
    worker_ready_line: str = ""
    # Worker concurrencies: the first serves every measurement, all of them the wall-time one.
    worker_concurrencies: tuple[int, ...] = ()
    # Measured for the POST table only: a variant whose difference is what a POST does.
    post_only: bool = False

    @property
    def app(self) -> str:
        """The stage's app plus the empty endpoint, as uvicorn names it (see bench/targets.py)."""
        return f"bench.targets:{self.package}"

    @property
    def default_concurrency(self) -> int | None:
        return self.worker_concurrencies[0] if self.worker_concurrencies else None

    @property
    def number(self) -> int:
        return stage_number(self.package)


def sqlite_file(workdir: Path) -> dict[str, str]:
    """Stage 4 on its default database, SQLite, in a file of its own."""
    return {"DATABASE_URL": f"sqlite:///{workdir / 'tasks.db'}"}


def on_redis(workdir: Path) -> dict[str, str]:
    """A queue stage on Redis, as on many machines, under a key prefix of its own. Celery beat's
    file, if any, stays in the scratch folder."""
    return queue_deployments.on_redis(REDIS_URL, LABEL, workdir / "queue")


def on_rabbitmq(workdir: Path) -> dict[str, str]:
    """A queue stage with RabbitMQ as the broker (a queue of its own), results in Redis."""
    return queue_deployments.on_rabbitmq(RABBITMQ_URL, REDIS_URL, LABEL, workdir / "queue")


def on_rabbitmq_without_confirms(workdir: Path) -> dict[str, str]:
    """Stage 5 on RabbitMQ as above, with no publisher confirms: what the confirms cost."""
    return {**on_rabbitmq(workdir), "CELERY_CONFIRM_PUBLISH": "0"}


def in_a_folder(workdir: Path) -> dict[str, str]:
    """A queue stage on its embedded default: messages and results in a scratch folder."""
    return queue_deployments.in_a_folder(workdir / "queue")


def queue_stage(
    package: str,
    broker: str,
    settings: Callable[[Path], dict[str, str]],
    worker_concurrencies: tuple[int, ...] = (4,),
    post_only: bool = False,
) -> Stage:
    """A stage whose jobs Celery workers run, on one broker: the API plus a worker of each
    concurrency (`celery -A <stage>.tasks worker`, named so its "ready." line can be waited for)."""
    node = queue_deployments.worker_node(LABEL, package)

    def celery_worker(concurrency: int) -> list[str]:
        return queue_deployments.worker_command(package, concurrency, node)

    return Stage(
        package,
        f"{stage_number(package)} {stage_topic(package)} (Celery, {broker})",
        has_status=not post_only,
        post_only=post_only,
        # The API keeps nothing per task (the result store does): its memory is not the
        # question here, and 10,000 more jobs through a worker would add a minute to every run.
        measure_memory=False,
        settings=settings,
        cleanup=queue_deployments.remove_space,
        worker_command=celery_worker,
        worker_ready_line=queue_deployments.ready_line(node),
        worker_concurrencies=worker_concurrencies,
    )


# The stages whose jobs run in the web process, each with what sets it apart.
IN_THE_WEB_PROCESS = {
    "step1_blocking": Stage("step1_blocking", "1 blocking", has_status=False, measure_memory=False),
    # Stage 2 keeps nothing per task: the control for the memory figure.
    "step2_background": Stage("step2_background", "2 background", has_status=False),
    "step3_status": Stage("step3_status", "3 status (dict)"),
    "step4_database": Stage("step4_database", "4 database (SQLite)", settings=sqlite_file),
}
# The stage that introduces the queue is also measured with 1 worker process (a queue empties at
# the pace of its workers) and on the other brokers (how fast 4 worker processes empty each one).
QUEUE_STAGE = "step5_queue"


def deployments(package: str) -> tuple[Stage, ...]:
    """What the benchmark serves of one stage: from stage 5 on, the stage on Redis, as on many
    machines (the later ones too, so each is measured next to the stage before it)."""
    if not runs_jobs_in_workers(package):
        return (IN_THE_WEB_PROCESS[package],)
    if package != QUEUE_STAGE:
        return (queue_stage(package, "Redis", on_redis),)
    return (
        queue_stage(package, "Redis", on_redis, worker_concurrencies=(4, 1)),
        queue_stage(package, "RabbitMQ", on_rabbitmq),
        # Publisher confirms make each POST wait for RabbitMQ to have the job on disk: the POST
        # table shows what that costs.
        queue_stage(
            package, "RabbitMQ, no publisher confirms", on_rabbitmq_without_confirms, post_only=True
        ),
        queue_stage(package, "folder", in_a_folder),
    )


STAGES: tuple[Stage, ...] = tuple(
    deployment for package in harness_stages.STAGES for deployment in deployments(package)
)
