"""Stage 5 on many machines, for real: four hosts in network namespaces, one bridge between them.

A broker host runs a Redis of its own (not the shared one), an API host runs uvicorn, two worker
hosts run `celery worker`; each listens on its own address only. The test's HTTP requests come
from a fifth, client host: they are made on threads that enter its namespace. Cutting a worker
host's link (`ip link set ... down`) is a machine dropping off the network: its job must complete
on the other host.

Nothing here touches the machine's own (root) namespace: each veth pair is created inside the two
namespaces it joins. Chromium, which other test modules drive at the same time, aborts its
requests in flight (ERR_NETWORK_CHANGED) whenever an interface or address in its namespace comes
or goes; a link from the root namespace failed the live page's 50 POSTs (reproduced 2/2 by adding
and removing a veth in a loop, 0/2 with the pairs made inside namespaces).

Making namespaces needs root and iproute2's `ip`; without them the module is skipped, saying
which is missing.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import random
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from signal import SIGKILL

import httpx
import pytest

from tests.services import require_network_namespaces, under_ci
from tests.step5_deployments import STAGE
from uvicorn_harness.server import RunningServer, StartServer, server_starter, wait_until

ROLES = ("broker", "api", "worker1", "worker2", "client")
JOB_SECONDS = 0.5
# Longer than a job with a margin, short so the handover after a cut takes seconds.
VISIBILITY_SECONDS = 3.0
# After the cut, the job completes on the other host within: the visibility timeout, one sweep
# (1 s), the job itself, and a margin for a busy machine. The docs page states this bound.
HANDOVER_WITHIN = VISIBILITY_SECONDS + 1 + JOB_SECONDS + 2.5
HANDOVER_ON_PAGE = re.compile(r"completes\s+on\s+the\s+other\s+worker\s+host\s+within\s+([\d.]+) s")
DOCS_PAGE = Path(__file__).resolve().parent.parent / "docs" / "step5_queue.md"
SUCCEEDED = re.compile(r"very_long_task\[([0-9a-f-]{36})\] succeeded")


@pytest.fixture(scope="module", autouse=True)
def namespaces_can_be_made() -> None:
    """Left out, named in the run's summary, where namespaces cannot be made; fails under CI."""
    require_network_namespaces()
    # The broker host runs a Redis of its own: the installed server, not the shared one.
    if shutil.which("redis-server") is None:
        message = "needs Redis: redis-server is not installed (the broker host runs its own)"
        if under_ci():
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@dataclass
class Hosts:
    """Five namespaces (four servers and the test's client) on one bridge, in a sixth."""

    prefix: str = field(default_factory=lambda: f"s5{uuid.uuid4().hex[:6]}")
    subnet: str = field(
        default_factory=lambda: f"10.{random.randint(200, 250)}.{random.randint(0, 255)}"
    )
    created: list[str] = field(default_factory=list)

    def namespace(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    def address(self, role: str) -> str:
        return f"{self.subnet}.{ROLES.index(role) + 1}"

    @property
    def switch(self) -> str:
        return self.namespace("switch")

    def create(self) -> None:
        self._add_namespace(self.switch)
        ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        ip("-n", self.switch, "link", "set", "br0", "up")
        for number, role in enumerate(ROLES):
            host, port = self.namespace(role), f"port{number}"
            self._add_namespace(host)
            # Both ends are born in their namespaces: the root namespace never sees them.
            ends = ("eth0", "netns", host, "type", "veth", "peer", port, "netns", self.switch)
            ip("link", "add", *ends)
            ip("-n", host, "addr", "add", f"{self.address(role)}/24", "dev", "eth0")
            ip("-n", host, "link", "set", "eth0", "up")
            ip("-n", host, "link", "set", "lo", "up")
            ip("-n", self.switch, "link", "set", port, "master", "br0", "up")

    def _add_namespace(self, name: str) -> None:
        ip("netns", "add", name)
        self.created.append(name)

    def cut(self, role: str) -> None:
        ip("-n", self.namespace(role), "link", "set", "eth0", "down")

    def command(self, role: str, *command: str) -> list[str]:
        """`command`, run on host `role` (ip netns exec execs it: the PID stays the same)."""
        return ["ip", "netns", "exec", self.namespace(role), *command]

    def client(self, base_url: str) -> httpx.Client:
        """An HTTP client on the client host: it opens every connection from a thread there."""
        return httpx.Client(base_url=base_url, timeout=10, transport=ThreadTransport(self))

    def remove(self) -> None:
        # Deleting a namespace deletes the veth ends in it, and with them their peers.
        for name in reversed(self.created):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        self.created.clear()


CLONE_NEWNET = 0x40000000  # <sched.h>: setns() into a network namespace


def enter_network_namespace(name: str) -> None:
    """Move the calling thread (only it: a namespace is per thread) into `ip netns` namespace
    `name`; the sockets it creates from then on belong there."""
    with open(f"/run/netns/{name}") as namespace:
        if hasattr(os, "setns"):  # Python 3.12+
            os.setns(namespace.fileno(), CLONE_NEWNET)
            return
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.setns(namespace.fileno(), CLONE_NEWNET) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"setns into {name}: {os.strerror(error)}")


class ThreadTransport(httpx.BaseTransport):
    """httpx's own transport, called on one thread that lives on the client host. A socket
    stays in the namespace it was created in, so the response is read on the caller's thread."""

    def __init__(self, hosts: Hosts) -> None:
        self._transport = httpx.HTTPTransport()
        client = hosts.namespace("client")
        self._thread = ThreadPoolExecutor(
            1, initializer=enter_network_namespace, initargs=(client,)
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._thread.submit(self._transport.handle_request, request).result()

    def close(self) -> None:
        self._transport.close()
        self._thread.shutdown()


@pytest.fixture(scope="module")
def hosts() -> Iterator[Hosts]:
    made = Hosts()
    atexit.register(made.remove)  # a run that dies still removes them
    try:
        made.create()
        yield made
    finally:
        made.remove()


@pytest.fixture(scope="module")
def serve_on_hosts(hosts: Hosts) -> Iterator[StartServer]:
    """Servers on the hosts; they stop before the namespaces are removed."""
    yield from server_starter()


@dataclass
class Deployment:
    api_url: str
    workers: dict[str, RunningServer]


@pytest.fixture(scope="module")
def deployment(hosts: Hosts, serve_on_hosts: StartServer) -> Deployment:
    broker = hosts.address("broker")
    serve_on_hosts(
        command=hosts.command(
            "broker",
            "redis-server",
            "--bind",
            broker,
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
            # Protected mode refuses every other host; this Redis is on a private link only.
            "--protected-mode",
            "no",
        ),
        ready_line="Ready to accept connections",
        serves_http=False,
    )
    url = f"redis://{broker}:6379/0"
    env = {
        "CELERY_BROKER_URL": url,
        "CELERY_RESULT_BACKEND": url,
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_SECONDS),
        "TASK_SECONDS": str(JOB_SECONDS),
    }

    def start_worker(role: str) -> RunningServer:
        node = f"{role}-{uuid.uuid4().hex[:6]}@{hosts.address(role)}"
        worker = [sys.executable, "-m", "celery", "-A", f"{STAGE}.tasks", "worker"]
        worker += ["--loglevel=INFO", "--concurrency=4", f"--hostname={node}"]
        return serve_on_hosts(
            command=hosts.command(role, *worker),
            env=env,
            ready_line=f"{node} ready.",
            serves_http=False,
            stop_signal=SIGKILL,
        )

    roles = ("worker1", "worker2")
    with ThreadPoolExecutor(2) as starting:  # each takes seconds to start: side by side
        workers = dict(zip(roles, starting.map(start_worker, roles), strict=True))
    api = hosts.address("api")
    uvicorn = [sys.executable, "-m", "uvicorn", f"{STAGE}.app:app", "--host", api]
    serve_on_hosts(command=hosts.command("api", *uvicorn, "--port", "8000"), env=env)
    return Deployment(f"http://{api}:8000", workers)


def successes(worker: RunningServer) -> Counter[str]:
    return Counter(m[1] for line in worker.console_lines() if (m := SUCCEEDED.search(line)))


def test_100_jobs_posted_to_the_api_host_run_once_each_on_both_worker_hosts(
    hosts: Hosts, deployment: Deployment
) -> None:
    with hosts.client(deployment.api_url) as client:
        task_ids = [client.post("/long_task").json() for _ in range(100)]
    workers = list(deployment.workers.values())

    def all_succeeded() -> bool:
        return sum(sum(successes(worker).values()) for worker in workers) >= 100

    wait_until(all_succeeded, 60, "100 jobs to succeed")
    ran = [successes(worker) for worker in workers]
    assert ran[0] + ran[1] == Counter(task_ids)
    assert all(sum(counts.values()) > 0 for counts in ran), [len(counts) for counts in ran]


def test_a_worker_host_cut_off_mid_job_hands_its_job_to_the_other_host(
    hosts: Hosts, deployment: Deployment
) -> None:
    marks = {role: worker.mark() for role, worker in deployment.workers.items()}
    with hosts.client(deployment.api_url) as client:
        task_id = client.post("/long_task").json()

        def taker() -> str | None:
            for role, worker in deployment.workers.items():
                if any(task_id in line for line in worker.console_lines(marks[role])):
                    return role
            return None

        cut_role = wait_until(taker, 10, "a worker host to take the job", interval=0.005)
        hosts.cut(cut_role)
        cut_at = time.monotonic()
        [other_role] = [role for role in deployment.workers if role != cut_role]
        other = deployment.workers[other_role]
        done = other.wait_for_line(
            lambda text: f"[{task_id}] succeeded" in text, marks[other_role], HANDOVER_WITHIN
        )
        assert client.get("/status", params={"task_id": task_id}).json() == "completed"
    print(f"recovery, worker host cut off: {done.at - cut_at:.2f} s")
    assert done.at - cut_at < HANDOVER_WITHIN
    on_page = HANDOVER_ON_PAGE.search(DOCS_PAGE.read_text())
    assert on_page is not None and float(on_page[1]) == HANDOVER_WITHIN
