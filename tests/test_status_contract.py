"""One status API, proven the same way for every stage that serves it.

A client written against stage 3 must work unchanged against the later stages, so each
deployment below runs the very same tests (FastAPI's docs test their variants this way).
A deployment is a function that starts everything the stage needs and returns its web server.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.databases import scratch_postgres_url, scratch_sqlite_url
from tests.step5_deployments import embedded, on_rabbitmq, on_redis
from uvicorn_harness.server import RunningServer, StartServer, server_starter, wait_until
from uvicorn_harness.stage_timing import JOB_SECONDS

Deployment = Callable[[StartServer, dict[str, str]], RunningServer]


def step3_status(serve: StartServer, env: dict[str, str]) -> RunningServer:
    return serve("step3_status.app:app", env=env)


def step4_database_sqlite(serve: StartServer, env: dict[str, str]) -> RunningServer:
    return serve("step4_database.app:app", env={**env, "DATABASE_URL": scratch_sqlite_url()})


def step4_database_postgresql(serve: StartServer, env: dict[str, str]) -> RunningServer:
    return serve("step4_database.app:app", env={**env, "DATABASE_URL": scratch_postgres_url()})


# Later stages add their deployments here (several, where one stage runs on several backends).
DEPLOYMENTS: dict[str, Deployment] = {
    "step3_status": step3_status,
    "step4_database-sqlite": step4_database_sqlite,
    "step4_database-postgresql": step4_database_postgresql,
    # Stage 5 starts a Celery worker too; the same API with no settings, on Redis, on RabbitMQ.
    "step5_queue-embedded": embedded,
    "step5_queue-redis": on_redis,
    "step5_queue-rabbitmq": on_rabbitmq,
    # Stage 6 is stage 5 plus progress and cancel: the same contract, on its default queue.
    "step6_progress-embedded": functools.partial(embedded, stage="step6_progress"),
}


@pytest.fixture(scope="module", params=list(DEPLOYMENTS))
def deployment(request: pytest.FixtureRequest) -> Deployment:
    return DEPLOYMENTS[request.param]


@pytest.fixture(scope="module")
def serve_deployment(deployment: Deployment) -> Iterator[StartServer]:
    """Servers of one deployment: they stop before the next deployment's servers start."""
    yield from server_starter()


@pytest.fixture(scope="module")
def api(deployment: Deployment, serve_deployment: StartServer) -> Iterator[httpx.Client]:
    server = deployment(serve_deployment, {"TASK_SECONDS": str(JOB_SECONDS)})
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def failing_api(deployment: Deployment, serve_deployment: StartServer) -> Iterator[httpx.Client]:
    server = deployment(serve_deployment, {"TASK_SECONDS": "0.2", "TASK_FAIL": "1"})
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def start_job(client: httpx.Client) -> str:
    response = client.post("/long_task")
    assert response.status_code == 200
    task_id = response.json()
    assert isinstance(task_id, str)
    return task_id


def status_of(client: httpx.Client, task_id: str) -> str:
    response = client.get("/status", params={"task_id": task_id})
    assert response.status_code == 200, response.text
    return response.json()


def test_post_returns_a_uuid_as_a_json_string(api: httpx.Client) -> None:
    task_id = start_job(api)
    assert str(uuid.UUID(task_id)) == task_id


def test_status_is_running_right_after_the_post_then_completed(api: httpx.Client) -> None:
    task_id = start_job(api)
    # "queued" is allowed where a queue may hold the job before a worker takes it (stage 5).
    assert status_of(api, task_id) in {"running", "queued"}
    wait_until(lambda: status_of(api, task_id) == "completed", JOB_SECONDS * 10, "status completed")


def test_status_is_failed_when_the_job_raises(failing_api: httpx.Client) -> None:
    task_id = start_job(failing_api)
    wait_until(lambda: status_of(failing_api, task_id) == "failed", 20, "status failed")


def test_unknown_id_is_404_with_the_articles_detail(api: httpx.Client) -> None:
    response = api.get("/status", params={"task_id": str(uuid.uuid4())})
    assert response.status_code == 404
    assert response.json() == {"detail": "Item not found"}


def test_id_that_is_not_a_uuid_is_404_too(api: httpx.Client) -> None:
    response = api.get("/status", params={"task_id": "not-a-task"})
    assert response.status_code == 404
    assert response.json() == {"detail": "Item not found"}


def test_missing_id_is_422(api: httpx.Client) -> None:
    response = api.get("/status")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "task_id"]
