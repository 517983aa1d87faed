"""The deployments of a queue stage (5, and 6, its copy with progress and cancel): the settings
that put its API and workers on the embedded folder queue, on Redis or on RabbitMQ, the
worker's command, and how to remove what a deployment left behind. The tests and the benchmark
both run these.

Each deployment gets a space of its own, so runs that share a machine, a Redis or a RabbitMQ
never see each other's jobs: a fresh folder for the embedded queue, a key prefix on Redis, a
queue of its own on RabbitMQ. The settings are the stage's documented environment variables;
`remove_space` reads them back to know what to delete.
"""

from __future__ import annotations

import shutil
import sys
import uuid
from pathlib import Path

import redis
from kombu.connection import Connection


def in_a_folder(folder: Path) -> dict[str, str]:
    """The embedded default: messages, results and leases in `folder`."""
    return {"QUEUE_FOLDER": str(folder)}


def on_redis(redis_url: str, label: str, folder: Path | None = None) -> dict[str, str]:
    """Redis as broker and result store, under a key prefix of its own (`label-1a2b...:`).

    `folder`, if given, is where Celery beat would keep its schedule (QUEUE_FOLDER).
    """
    settings = {
        "CELERY_BROKER_URL": redis_url,
        "CELERY_RESULT_BACKEND": redis_url,
        "CELERY_KEY_PREFIX": f"{label}-{uuid.uuid4().hex[:12]}:",
    }
    return settings | (in_a_folder(folder) if folder is not None else {})


def on_rabbitmq(
    rabbitmq_url: str, redis_url: str, label: str, folder: Path | None = None
) -> dict[str, str]:
    """RabbitMQ as the broker (a queue of its own), results in Redis (under a key prefix).

    Not Celery's rpc:// results: they travel back to the process that sent the job, so another
    API process, or the same one restarted, could never read them.
    """
    return {
        **on_redis(redis_url, label, folder),
        "CELERY_BROKER_URL": rabbitmq_url,
        "CELERY_QUEUE": f"{label}-{uuid.uuid4().hex[:12]}",
    }


def remove_space(settings: dict[str, str]) -> None:
    """Delete the folder, Redis keys and RabbitMQ queue a deployment with these settings used."""
    if folder := settings.get("QUEUE_FOLDER"):
        shutil.rmtree(folder, ignore_errors=True)
    if prefix := settings.get("CELERY_KEY_PREFIX"):
        client = redis.Redis.from_url(settings["CELERY_RESULT_BACKEND"])
        try:
            for key in client.scan_iter(match=f"{prefix}*", count=1000):
                client.delete(key)
        finally:
            client.close()
    if queue := settings.get("CELERY_QUEUE"):
        # kombu ships no type hints.
        broker = Connection(settings["CELERY_BROKER_URL"])  # type: ignore[no-untyped-call]
        with broker as connection:
            connection.default_channel.queue_delete(queue)


def worker_node(name: str, stage: str) -> str:
    """A node name no other worker has, `name-1a2b3c4d@step5`: its "ready." line names it."""
    return f"{name}-{uuid.uuid4().hex[:8]}@{stage.split('_')[0]}"


def worker_command(stage: str, concurrency: int, node: str) -> list[str]:
    """`celery -A step5_queue.tasks worker`, as a reader types it, with a name to wait for."""
    return [
        *(sys.executable, "-m", "celery", "-A", f"{stage}.tasks", "worker"),
        *("--loglevel=INFO", f"--concurrency={concurrency}", f"--hostname={node}"),
        # Worker-to-worker chatter at startup, which a run of its own does not need: faster.
        *("--without-mingle", "--without-gossip"),
    ]


def ready_line(node: str) -> str:
    """What the worker prints once it takes jobs."""
    return f"{node} ready."
