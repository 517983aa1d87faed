"""How the tests run stage 5 (and stage 6, its copy with progress and cancel): Celery workers
and the API as separate real processes. Each function takes the stage package, stage 5 unless
told; the deployments below serve either.

Each deployment gets its own broker space, so test runs sharing a machine (and a Redis) never
see each other's jobs: a fresh folder for the embedded transport, a fresh key prefix on Redis.
Both are removed when the test session ends (conftest.py calls `remove_broker_spaces`: before
the throwaway servers stop, so a throwaway Redis is still there to clean). The services' URLs
are read when used, not at import: tests/services.py may start a throwaway server after this
module is imported, and exports its URL then.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import uuid
from pathlib import Path
from signal import SIGKILL

import kombu
import redis

from tests.services import SERVICES, service_url
from uvicorn_harness.server import RunningServer, StartServer

STAGE = "step5_queue"

_folders: list[str] = []
_key_prefixes: list[str] = []
_rabbitmq_queues: list[str] = []


def embedded_env() -> dict[str, str]:
    """Settings for the default: messages and results in a folder of their own."""
    folder = tempfile.mkdtemp(prefix="step5_queue-")
    _folders.append(folder)
    return {"QUEUE_FOLDER": folder}


def redis_env() -> dict[str, str]:
    """Settings for Redis as broker and result backend, under a key prefix of their own."""
    url = service_url("Redis")  # skips the test (fails it under CI) where no Redis answers
    prefix = f"test-step5-{uuid.uuid4().hex[:12]}:"
    _key_prefixes.append(prefix)
    return {
        "CELERY_BROKER_URL": url,
        "CELERY_RESULT_BACKEND": url,
        "CELERY_KEY_PREFIX": prefix,
    }


def rabbitmq_env() -> dict[str, str]:
    """RabbitMQ as the broker (a queue of its own), results in Redis (under a key prefix).

    Not Celery's rpc:// results: they travel back to the process that sent the job, so another
    API process, or the same one restarted, could never read them.
    """
    url = service_url("RabbitMQ")  # skips the test (fails it under CI) where none answers
    queue = f"test-step5-{uuid.uuid4().hex[:12]}"
    _rabbitmq_queues.append(queue)
    return {**redis_env(), "CELERY_BROKER_URL": url, "CELERY_QUEUE": queue}


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
    node = f"{name}-{uuid.uuid4().hex[:8]}@{stage.split('_')[0]}"
    command = [
        *(sys.executable, "-m", "celery", "-A", f"{stage}.tasks", "worker"),
        *("--loglevel=INFO", f"--concurrency={concurrency}", f"--hostname={node}"),
        # Worker-to-worker chatter at startup, which the tests do not need: faster start.
        *("--without-mingle", "--without-gossip"),
    ]
    # Stopped with SIGKILL: nothing here depends on its warm shutdown, which takes seconds.
    ready_line = f"{node} ready."
    return serve(
        command=command, env=env, ready_line=ready_line, serves_http=False, stop_signal=SIGKILL
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
    for folder in _folders:
        shutil.rmtree(folder, ignore_errors=True)
    if _key_prefixes:
        client = redis.Redis.from_url(SERVICES["Redis"].url)
        for prefix in _key_prefixes:
            for key in client.scan_iter(match=f"{prefix}*", count=1000):
                client.delete(key)
        client.close()
    if _rabbitmq_queues:
        with kombu.Connection(SERVICES["RabbitMQ"].url) as connection:
            channel = connection.default_channel
            for queue in _rabbitmq_queues:
                channel.queue_delete(queue)
