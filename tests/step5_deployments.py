"""How the tests run stage 5 (and stage 6, its copy with progress and cancel): Celery workers
and the API as separate real processes. Each function takes the stage package, stage 5 unless
told; the deployments below serve either. The settings and commands are
uvicorn_harness/queue_deployments.py's, which the benchmark runs too.

Each deployment gets a space of its own (a folder, a Redis key prefix, a RabbitMQ queue),
removed when the test session ends (conftest.py calls `remove_broker_spaces`: before the
throwaway servers stop, so a throwaway Redis is still there to clean). The services' URLs are
read when used, not at import: tests/services.py may start a throwaway server after this
module is imported, and exports its URL then.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from signal import SIGKILL

from tests.services import service_url
from uvicorn_harness import queue_deployments
from uvicorn_harness.queue_deployments import ready_line, worker_command, worker_node
from uvicorn_harness.server import RunningServer, StartServer

STAGE = "step5_queue"
# In every key prefix and queue name, so a stray one on a shared server says whose it is.
LABEL = "test-step5"

# The settings of every deployment this process made, to remove their spaces at the end.
_deployed: list[dict[str, str]] = []


def _kept(settings: dict[str, str]) -> dict[str, str]:
    _deployed.append(settings)
    return settings


def embedded_env() -> dict[str, str]:
    """Settings for the default: messages and results in a folder of their own."""
    return _kept(queue_deployments.in_a_folder(Path(tempfile.mkdtemp(prefix=f"{STAGE}-"))))


def redis_env() -> dict[str, str]:
    """Settings for Redis as broker and result backend, under a key prefix of their own."""
    url = service_url("Redis")  # skips the test (fails it under CI) where no Redis answers
    return _kept(queue_deployments.on_redis(url, LABEL))


def rabbitmq_env() -> dict[str, str]:
    """RabbitMQ as the broker (a queue of its own), results in Redis (under a key prefix)."""
    # Each skips the test (fails it under CI) where its server does not answer.
    rabbitmq, redis = service_url("RabbitMQ"), service_url("Redis")
    return _kept(queue_deployments.on_rabbitmq(rabbitmq, redis, LABEL))


def message_files(env: dict[str, str]) -> list[Path]:
    """The jobs an embedded queue holds: one file per message waiting in its folder."""
    return list((Path(env["QUEUE_FOLDER"]) / "messages").glob("*.msg"))


def start_worker(
    serve: StartServer,
    env: dict[str, str],
    concurrency: int = 1,
    name: str = "worker",
    stage: str = STAGE,
) -> RunningServer:
    """`celery -A step5_queue.tasks worker`, as a reader types it; ready when it says so."""
    node = worker_node(name, stage)
    # Stopped with SIGKILL: nothing here depends on its warm shutdown, which takes seconds.
    return serve(
        command=worker_command(stage, concurrency, node),
        env=env,
        ready_line=ready_line(node),
        serves_http=False,
        stop_signal=SIGKILL,
    )


def node_of(worker: RunningServer) -> str:
    """The node name start_worker gave the worker, as `celery inspect --destination` takes it."""
    return next(
        arg.removeprefix("--hostname=")
        for arg in worker.process.args
        if arg.startswith("--hostname=")
    )


def start_api(serve: StartServer, env: dict[str, str], stage: str = STAGE) -> RunningServer:
    return serve(f"{stage}.app:app", env=env)


# The settings of each deployment the crash and restart tests run on, by broker.
BROKER_ENVS = {"embedded": embedded_env, "redis": redis_env, "rabbitmq": rabbitmq_env}


def post_job(api: RunningServer) -> str:
    response = api.http.post("/long_task")
    response.raise_for_status()
    task_id: str = response.json()
    return task_id


def status_code_and_status(api: RunningServer, task_id: str) -> tuple[int, object]:
    response = api.http.get("/status", params={"task_id": task_id})
    return response.status_code, response.json()


def status_of(api: RunningServer, task_id: str) -> object:
    return status_code_and_status(api, task_id)[1]


def embedded(serve: StartServer, env: dict[str, str], stage: str = STAGE) -> RunningServer:
    """Stage 5 with no settings: filesystem broker, SQLite results; one worker, then the API."""
    env = {**env, **embedded_env()}
    # Two processes, so one test's job does not wait for the previous test's job.
    start_worker(serve, env, concurrency=2, stage=stage)
    return start_api(serve, env, stage)


def on_redis(serve: StartServer, env: dict[str, str], stage: str = STAGE) -> RunningServer:
    """Stage 5 with CELERY_BROKER_URL and CELERY_RESULT_BACKEND pointing at Redis."""
    env = {**env, **redis_env()}
    # Two processes, so one test's job does not wait for the previous test's job.
    start_worker(serve, env, concurrency=2, stage=stage)
    return start_api(serve, env, stage)


def on_rabbitmq(serve: StartServer, env: dict[str, str], stage: str = STAGE) -> RunningServer:
    """Stage 5 with CELERY_BROKER_URL=amqp://... and results in Redis."""
    env = {**env, **rabbitmq_env()}
    start_worker(serve, env, concurrency=2, stage=stage)
    return start_api(serve, env, stage)


def remove_broker_spaces() -> None:
    """Remove every folder, key prefix and queue this process's deployments used."""
    for settings in _deployed:
        queue_deployments.remove_space(settings)
