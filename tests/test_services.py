"""The suite on a machine without services: it passes, names what it left out, fails under CI.

A reader's laptop is played by a network namespace with only loopback: nothing listens on
127.0.0.1 there. `TEST_START_SERVICES=0` plays a laptop without the servers installed; without it,
the run starts a throwaway server where one is installed. One contract test per deployment is
enough to see every service asked for.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from tests.services import SERVICES, require_network_namespaces
from uvicorn_harness.server import REPO_ROOT

# The contract module asks for every service: PostgreSQL (stage 4), Redis and RabbitMQ (stage 5).
ONE_TEST_PER_DEPLOYMENT = ["tests/test_status_contract.py", "-k", "unknown_id_is_404"]
RUN_SECONDS = 180
_namespaces: list[str] = []


def _delete_namespace(name: str) -> None:
    subprocess.run(["ip", "netns", "delete", name], capture_output=True, check=False)


@atexit.register
def _delete_leftover_namespaces() -> None:
    for name in _namespaces:
        _delete_namespace(name)


@pytest.fixture(scope="module")
def laptop() -> Iterator[str]:
    """A network namespace with only loopback up: the name to pass to `ip netns exec`."""
    require_network_namespaces()
    name = f"laptop-{uuid.uuid4().hex[:8]}"
    _namespaces.append(name)
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        _delete_namespace(name)


def run_suite_on(laptop: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """Part of the suite inside the namespace, with this run's service settings removed."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "CI" and not any(key == s.url_variable for s in SERVICES.values())
    }
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0", "-v"]
    return subprocess.run(
        ["ip", "netns", "exec", laptop, *command, *ONE_TEST_PER_DEPLOYMENT],
        cwd=REPO_ROOT,
        env={**env, **settings},
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
    )


def test_without_services_the_run_passes_and_names_each_one_left_out(laptop: str) -> None:
    run = run_suite_on(laptop, TEST_START_SERVICES="0")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "left out: services this machine does not have" in run.stdout
    for service in SERVICES.values():
        line = next(
            (
                line
                for line in run.stdout.splitlines()
                if line.startswith(f"{service.name}: nothing answers")
            ),
            None,
        )
        assert line is not None, f"no line names {service.name}:\n{run.stdout}"
        assert "tests did not run (tests/test_status_contract.py)" in line
        assert f"Provide it: {service.provide}" in line
    # What needs no server still ran: stage 3, stage 4 on SQLite, stage 5 on its folder queue.
    assert " passed" in run.stdout.splitlines()[-1]


def test_under_ci_a_missing_service_fails_the_run(laptop: str) -> None:
    run = run_suite_on(laptop, TEST_START_SERVICES="0", CI="true")
    assert run.returncode != 0
    assert "CI=true and no PostgreSQL, Redis, RabbitMQ answers" in run.stdout + run.stderr


def test_an_installed_redis_is_started_for_the_run_and_its_tests_run(laptop: str) -> None:
    # Redis is installed on this machine (it serves the rest of the suite): the laptop run
    # starts a throwaway one on a free port and runs the Redis deployment's test against it.
    run = run_suite_on(laptop)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "needs Redis" not in run.stdout
    assert "[step5_queue-redis] PASSED" in run.stdout, run.stdout
