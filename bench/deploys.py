"""A rolling deploy of stage 5 under load: every accepted job done, and what clients saw.

python -m bench.deploys [--broker embedded|redis|rabbitmq ...] [--short] [--write]
python -m bench.deploys --redraw

Per broker, stage 5 runs as a deployment does: the API under uvicorn's supervisor
(`--workers 2`) and two Celery workers. Clients POST jobs at a steady rate, jobs of mixed
lengths (a few longer than the grace period). Meanwhile every process is replaced, one at a
time, as Kubernetes, systemd or a PaaS does it: a new process first, then SIGTERM to the old
one, and SIGKILL if it is still there when the grace period ends.

- The API: SIGHUP to uvicorn's supervisor, which starts a new process, waits until it serves,
  then sends the old one SIGTERM, one process after the other (uvicorn 0.54,
  uvicorn/supervisors/multiprocess.py, `restart_all`). The old process stops accepting and
  finishes the requests it has (`--timeout-graceful-shutdown` bounds that).
- Each worker: a new worker is started and ready; the old one gets SIGTERM, which with
  `REMAP_SIGTERM=SIGQUIT` starts Celery's soft shutdown (see step5_queue/tasks.py): jobs run on
  for SOFT_SHUTDOWN_SECONDS, then those still running are put back in the queue, before the
  grace period ends.

At the end: jobs accepted (a POST answered 200), completed, interrupted and run again, run to
their end twice, lost (accepted and never completed), the longest wait, and what the clients
saw (errors, the p99 of POST). With `--write` it stores them as the figures the stage-5 deploy
page shows (docs/step5/deploys.*). The suite runs a short version (tests/test_step5_deploys.py).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import charts, stages
from bench.charts import stamp
from bench.deploy_figures import lanes_chart, table
from bench.measure import percentile
from step5_queue.tasks import seconds_for
from uvicorn_harness import queue_deployments
from uvicorn_harness.server import REPO_ROOT, RunningServer, start_server, wait_until

STAGE = "step5_queue"
FIGURES = REPO_ROOT / "docs" / "step5"
# What each deploy measured, job by job: the table and the chart are drawn from it.
OUTCOMES_JSON = FIGURES / "deploy-outcomes.json"
DEPLOYS_MD = FIGURES / "deploys.md"
DEPLOYS_SVG = FIGURES / "deploys.svg"  # its data file beside it: deploys.json

RECEIVED = re.compile(r"very_long_task\[([0-9a-f-]{36})\] received")
# A worker's cold shutdown, which follows its soft one: the jobs still running go back then.
COLD_SHUTDOWN = "worker: Cold shutdown (MainProcess)"
SUCCEEDED = re.compile(r"very_long_task\[([0-9a-f-]{36})\] succeeded")
# uvicorn's supervisor, as it retires an old process during restart_all.
API_PROCESS_TERMINATED = re.compile(r"Terminated child process \[(\d+)\]")
API_PROCESS_JOINED = re.compile(r"Waiting for child process \[(\d+)\]")
API_RESTART_ABORTED = "aborting the restart"
API_READY_WITHIN = 30


@dataclass(frozen=True)
class Plan:
    """The load, the deployment and the deploy."""

    jobs_per_second: float
    load_seconds: float
    # Each job's length follows from its id (TASK_SECONDS_MIX, step5_queue/tasks.py).
    job_mix: tuple[float, ...]
    clients: int  # at most this many POSTs in flight
    api_processes: int
    workers: int
    worker_concurrency: int
    grace_seconds: float  # SIGTERM, then SIGKILL after this
    soft_shutdown_seconds: float  # Celery's soft shutdown: below the grace, with a margin
    deploy_after_seconds: float  # into the load, at the earliest
    # ...and not before a job longer than the grace period runs: a deploy is there to hand such
    # jobs back, and the load's random mix may take a while to start one (the load's end at most).
    deploy_with_a_long_job_running: bool = False

    @property
    def long_jobs(self) -> tuple[float, ...]:
        return tuple(seconds for seconds in self.job_mix if seconds > self.grace_seconds)


# The benchmark's: 3 jobs a second for 30 s on two workers of 4 processes, jobs of 1 to 3 s and
# one in 25 of 35 s, and Kubernetes' default grace of 30 s (terminationGracePeriodSeconds). The
# load asks for about 9 processes (4.8 for the short jobs, 4.2 for the long ones) of the 8, so
# jobs queue up a little, which the same load run without a deploy measures too. (5 jobs a
# second of 1 to 3 s would need more than 8 before any long one.)
FULL = Plan(
    jobs_per_second=3,
    load_seconds=30,
    job_mix=(1, 1, 1, 2, 2, 3) * 4 + (35,),
    clients=8,
    api_processes=2,
    workers=2,
    worker_concurrency=4,
    grace_seconds=30,
    soft_shutdown_seconds=25,
    deploy_after_seconds=5,
    deploy_with_a_long_job_running=True,
)
# The suite's: seconds, not minutes. Every fourth job (an id picks its length) outlasts the soft
# shutdown, so each run has some for a retiring worker to give back. The grace leaves 5 s for
# a worker's cold shutdown after its soft one: a loaded machine took 2.5 s.
SHORT = Plan(
    jobs_per_second=5,
    load_seconds=6,
    job_mix=(0.3, 0.6, 1.0, 2.5),
    clients=4,
    api_processes=2,
    workers=2,
    worker_concurrency=2,
    grace_seconds=6,
    soft_shutdown_seconds=1,
    deploy_after_seconds=1,
)


@dataclass
class Post:
    """One client's POST /long_task, retried once on a new connection if it failed."""

    sent: float  # seconds after the load began
    seconds: float = 0.0  # until the answer that counted, the retry included
    task_id: str | None = None  # None: no attempt was answered 200
    errors: list[str] = field(default_factory=list)  # what each failed attempt saw


@dataclass(frozen=True)
class Event:
    at: float  # seconds after the load began
    what: str


@dataclass(frozen=True)
class Run:
    """One run of a job on one worker, in seconds after the load began."""

    start: float  # the worker received the job (prefetch 1: a free process starts it at once)
    end: float  # it succeeded there, or the worker gave it back (its cold shutdown)
    finished: bool  # reached the job's end; False: stopped by the deploy and put back


@dataclass
class Job:
    """An accepted job, as the workers' consoles and GET /status told it."""

    task_id: str
    posted: float  # the POST's answer, seconds after the load began
    seconds: float  # its length
    runs: list[Run]  # in the order they started
    status: str = ""

    @property
    def completed(self) -> bool:
        return self.status == "completed"

    @property
    def waited(self) -> float:
        """Its time in the queue: from the POST's answer to its first run, and from each run
        the deploy stopped to the next."""
        if not self.runs:
            return 0.0
        gaps = (after.start - before.end for before, after in itertools.pairwise(self.runs))
        return self.runs[0].start - self.posted + sum(max(gap, 0.0) for gap in gaps)

    @property
    def done_after(self) -> float | None:
        """From the POST's answer to the end of its last run."""
        return self.runs[-1].end - self.posted if self.runs else None


@dataclass
class Outcome:
    """What one broker's deploy measured (stored as the page's figures)."""

    broker: str
    plan: Plan
    accepted: int
    completed: int
    lost: int
    interrupted_ran_again: int  # a run stopped by the deploy, then a run to the end
    ran_to_end_twice: int  # two runs reached the job's end (the second found its effect)
    strays: int  # jobs that ran but whose POST failed: a failed POST that was a job after all
    longest_wait: float
    longest_done_after: float
    post_p50: float
    post_p99: float
    post_errors: Counter[str]  # what failed attempts saw, by kind; each was retried
    posts_failed: int  # POSTs whose retry failed too
    deploy_seconds: float  # from the first replacement to the last process replaced
    events: list[Event]
    jobs: list[Job]
    # The same load on a fresh deployment with no deploy: what the load costs by itself.
    longest_wait_without_deploy: float | None = None
    post_p99_without_deploy: float | None = None


# --- The deployment --------------------------------------------------------------------------


def api_command(plan: Plan) -> list[str]:
    return [
        *(sys.executable, "-m", "uvicorn", f"{STAGE}.app:app", "--host", "127.0.0.1"),
        *("--port", "0", "--workers", str(plan.api_processes), "--no-access-log"),
        *("--timeout-graceful-shutdown", str(math.ceil(plan.grace_seconds))),
        # How long the supervisor waits for a new process to serve before it gives up the
        # restart and keeps the old one: 5 s by default, which a new process on a busy 2-core
        # machine overran ("was not ready in time; ... aborting the restart").
        *("--timeout-worker-healthcheck", str(API_READY_WITHIN)),
    ]


class Deployment:
    """The API and the workers of one deploy, and everything they printed."""

    def __init__(self, plan: Plan, settings: dict[str, str]) -> None:
        self.plan = plan
        self.env = {
            **settings,
            "TASK_SECONDS_MIX": ",".join(f"{seconds:g}" for seconds in plan.job_mix),
            # SIGTERM starts the soft shutdown (billiard/common.py reads it at import).
            "REMAP_SIGTERM": "SIGQUIT",
            "SOFT_SHUTDOWN_SECONDS": f"{plan.soft_shutdown_seconds:g}",
        }
        self.workers: list[RunningServer] = []  # every worker started, old and new
        self.api: RunningServer | None = None

    def start(self) -> None:
        with ThreadPoolExecutor(self.plan.workers + 1) as starting:
            workers = [starting.submit(self.start_worker) for _ in range(self.plan.workers)]
            self.api = start_server(
                command=api_command(self.plan),
                env=self.env,
                ready_count=self.plan.api_processes,
            )
            for worker in workers:
                worker.result()

    def start_worker(self) -> RunningServer:
        node = queue_deployments.worker_node("deploy", STAGE)
        worker = start_server(
            command=queue_deployments.worker_command(STAGE, self.plan.worker_concurrency, node),
            env=self.env,
            ready_line=queue_deployments.ready_line(node),
            serves_http=False,
        )
        self.workers.append(worker)
        return worker

    def stop(self) -> None:
        for server in [*self.workers, *([self.api] if self.api else [])]:
            server.stop(signal.SIGKILL)


# --- The deploy ------------------------------------------------------------------------------


# --8<-- [start:deploy]
def replace_api(deployment: Deployment, began: float, events: list[Event]) -> None:
    """SIGHUP: uvicorn's supervisor replaces each process, the new one serving first."""
    api = deployment.api
    assert api is not None
    since = api.mark()
    os.kill(api.pid, signal.SIGHUP)  # the supervisor only: its processes die by SIGTERM
    events.append(Event(time.monotonic() - began, "API: SIGHUP to uvicorn's supervisor"))
    for number in range(1, deployment.plan.api_processes + 1):
        terminated = api.wait_for_line(
            lambda text: bool(API_PROCESS_TERMINATED.search(text)) or API_RESTART_ABORTED in text,
            since,
            API_READY_WITHIN * 2,
        )
        if API_RESTART_ABORTED in terminated.text:
            raise RuntimeError(f"uvicorn gave up replacing its processes: {terminated.text}")
        events.append(Event(terminated.at - began, f"API process {number}: SIGTERM"))
        joined = api.wait_for_line(lambda text: bool(API_PROCESS_JOINED.search(text)), since, 60)
        since = api.lines.index(joined) + 1
        events.append(Event(joined.at - began, f"API process {number} exited"))


def retire_worker(
    deployment: Deployment, old: RunningServer, began: float, events: list[Event]
) -> None:
    """SIGTERM to the old worker, SIGKILL if it is still there when the grace period ends."""
    name = f"worker {deployment.workers.index(old) + 1}"
    os.kill(old.pid, signal.SIGTERM)  # to the worker's main process, as to a container's PID 1
    events.append(Event(time.monotonic() - began, f"{name}: SIGTERM"))
    try:
        old.process.wait(deployment.plan.grace_seconds)
        events.append(Event(time.monotonic() - began, f"{name} exited"))
    except subprocess.TimeoutExpired:
        old.stop(signal.SIGKILL)
        events.append(Event(time.monotonic() - began, f"{name}: SIGKILL, the grace period over"))


def deploy_when_due(
    deployment: Deployment, posts: list[Post], began: float, events: list[Event]
) -> None:
    """Deploy once the plan says: after a while, and with a long job running if it asks."""
    plan = deployment.plan
    time.sleep(plan.deploy_after_seconds)  # the plan's schedule: the load runs alone first

    def a_long_job_runs() -> bool:
        running = runs_of(deployment.workers, began)
        return any(
            post.task_id in running
            and seconds_for(post.task_id, list(plan.job_mix)) > plan.grace_seconds
            for post in list(posts)
            if post.task_id
        )

    if plan.deploy_with_a_long_job_running:
        load_left = plan.load_seconds - (time.monotonic() - began)
        with suppress(TimeoutError):
            wait_until(a_long_job_runs, max(load_left, 0), "a long job to run", interval=0.2)
    deploy(deployment, began, events)


def deploy(deployment: Deployment, began: float, events: list[Event]) -> None:
    """Every process replaced, each tier one process at a time, as a rolling update does.

    The API's supervisor replaces its processes itself. Each worker: its successor is started
    and ready, then the old one is sent SIGTERM, and the next successor starts at once, as
    Kubernetes' rolling update does with `maxSurge: 1, maxUnavailable: 0` (an old process
    shutting down no longer counts as available).
    """
    old_workers = list(deployment.workers)
    with ThreadPoolExecutor(1 + len(old_workers)) as replacing:
        retiring = [replacing.submit(replace_api, deployment, began, events)]
        for old in old_workers:
            deployment.start_worker()
            name = f"worker {deployment.workers.index(old) + 1}"
            events.append(Event(time.monotonic() - began, f"{name}: its successor is ready"))
            retiring.append(replacing.submit(retire_worker, deployment, old, began, events))
        for replaced in retiring:
            replaced.result()  # raises what the replacement raised


# --8<-- [end:deploy]


# --- The clients -----------------------------------------------------------------------------


def post_once(client: httpx.Client) -> str:
    response = client.post("/long_task")
    response.raise_for_status()
    task_id: str = response.json()
    return task_id


def post_steadily(
    url: str, plan: Plan, began: float, stop: threading.Event, posts: list[Post]
) -> None:
    """POST a job every 1/rate seconds until the load's end, from at most `clients` clients.

    A failed attempt (a connection closed by a retiring process, an error status) is retried
    once, on a new connection, as a client should when no answer came back.
    """
    total = round(plan.jobs_per_second * plan.load_seconds)
    indexes = iter(range(total))
    lock = threading.Lock()

    def one_client() -> None:
        client = httpx.Client(base_url=url, timeout=30)
        try:
            while not stop.is_set():
                with lock:
                    index = next(indexes, None)
                if index is None:
                    return
                delay = began + index / plan.jobs_per_second - time.monotonic()
                if delay > 0:
                    time.sleep(delay)  # the load's schedule, not a wait for a condition
                post = Post(sent=time.monotonic() - began)
                for _attempt in range(2):
                    try:
                        post.task_id = post_once(client)
                        break
                    except (httpx.TransportError, httpx.HTTPStatusError) as error:
                        post.errors.append(f"{type(error).__name__}: {error}")
                        client.close()
                        client = httpx.Client(base_url=url, timeout=30)
                post.seconds = time.monotonic() - began - post.sent
                with lock:
                    posts.append(post)
        finally:
            client.close()

    with ThreadPoolExecutor(plan.clients) as clients:
        for running in [clients.submit(one_client) for _ in range(plan.clients)]:
            running.result()
    posts.sort(key=lambda post: post.sent)


# --- What happened ---------------------------------------------------------------------------


def runs_of(workers: list[RunningServer], began: float) -> dict[str, list[Run]]:
    """Each job's runs, from the workers' own lines."""
    runs: dict[str, list[Run]] = {}
    for worker in workers:
        lines = list(worker.lines)
        started: dict[str, float] = {}
        for line in lines:
            if match := RECEIVED.search(line.text):
                started[match[1]] = line.at - began
            elif (match := SUCCEEDED.search(line.text)) and match[1] in started:
                run = Run(started.pop(match[1]), line.at - began, finished=True)
                runs.setdefault(match[1], []).append(run)
        # Never ended there: given back at the worker's cold shutdown (or its last line).
        gone = next((line.at for line in lines if line.text == COLD_SHUTDOWN), lines[-1].at)
        for task_id, start in started.items():
            runs.setdefault(task_id, []).append(Run(start, gone - began, finished=False))
    return {task_id: sorted(found, key=lambda run: run.start) for task_id, found in runs.items()}


def ended_ids(workers: list[RunningServer]) -> set[str]:
    return {
        match[1]
        for worker in workers
        for line in list(worker.lines)
        if (match := SUCCEEDED.search(line.text))
    }


def measure(broker: str, plan: Plan, settings: dict[str, str], deploying: bool = True) -> Outcome:
    """Run the load and the deploy (or the load alone) on one deployment, and count what became
    of every job."""
    deployment = Deployment(plan, settings)
    try:
        deployment.start()
        assert deployment.api is not None
        events: list[Event] = []
        stop = threading.Event()
        began = time.monotonic()
        with ThreadPoolExecutor(1) as deployer:
            posts: list[Post] = []  # filled as the answers come
            deployed = (
                deployer.submit(deploy_when_due, deployment, posts, began, events)
                if deploying
                else None
            )
            try:
                post_steadily(deployment.api.url, plan, began, stop, posts)
                if deployed is not None:
                    deployed.result()  # raises what the deploy raised
            finally:
                stop.set()
        accepted = {post.task_id: post for post in posts if post.task_id is not None}
        # Every accepted job ends within its length after the deploy, a rerun of the longest
        # and the queue's backlog; a job not ended by then is counted lost.
        drain = max(plan.job_mix) * 2 + plan.load_seconds + 30
        with suppress(TimeoutError):
            # Every 0.2 s: each look reads every console line so far, thousands in the full plan.
            wait_until(
                lambda: set(accepted) <= ended_ids(deployment.workers),
                drain,
                "every job",
                interval=0.2,
            )
        return outcome_of(broker, plan, deployment, posts, events, began)
    finally:
        deployment.stop()


def outcome_of(
    broker: str,
    plan: Plan,
    deployment: Deployment,
    posts: list[Post],
    events: list[Event],
    began: float,
) -> Outcome:
    assert deployment.api is not None
    runs = runs_of(deployment.workers, began)
    client = deployment.api.http
    jobs = []
    for post in posts:
        if post.task_id is None:
            continue
        status = client.get("/status", params={"task_id": post.task_id}).json()
        mix = list(plan.job_mix)
        job = Job(
            post.task_id,
            post.sent + post.seconds,
            seconds_for(post.task_id, mix),
            runs.get(post.task_id, []),
            str(status),
        )
        jobs.append(job)
    accepted_ids = {job.task_id for job in jobs}
    answered = [post.seconds for post in posts if post.task_id is not None]
    errors = Counter(error.split(":")[0] for post in posts for error in post.errors)
    replaced = [event.at for event in events]
    return Outcome(
        broker=broker,
        plan=plan,
        accepted=len(jobs),
        completed=sum(job.completed for job in jobs),
        lost=sum(not job.completed for job in jobs),
        interrupted_ran_again=sum(
            job.completed and any(not run.finished for run in job.runs) for job in jobs
        ),
        ran_to_end_twice=sum(sum(run.finished for run in job.runs) > 1 for job in jobs),
        strays=len(set(runs) - accepted_ids),
        longest_wait=max((job.waited for job in jobs), default=0.0),
        longest_done_after=max((job.done_after or 0.0 for job in jobs), default=0.0),
        post_p50=percentile(answered, 50),
        post_p99=percentile(answered, 99),
        post_errors=errors,
        posts_failed=sum(post.task_id is None for post in posts),
        deploy_seconds=max(replaced) - min(replaced) if replaced else 0.0,
        events=sorted(events, key=lambda event: event.at),
        jobs=jobs,
    )


# --- The page's figures ----------------------------------------------------------------------


def as_data(outcomes: list[Outcome], stamp_text: str) -> dict[str, object]:
    return {"stamp": stamp_text, "outcomes": [asdict(outcome) for outcome in outcomes]}


def from_data(data: dict[str, Any]) -> list[Outcome]:
    """The outcomes as `as_data` stored them (JSON has lists where they had tuples)."""
    outcomes = []
    for stored in data["outcomes"]:
        fields = dict(stored)
        plan = fields.pop("plan")
        jobs = fields.pop("jobs")
        outcomes.append(
            Outcome(
                **fields
                | {
                    "plan": Plan(**plan | {"job_mix": tuple(plan["job_mix"])}),
                    "jobs": [
                        Job(**job | {"runs": [Run(**run) for run in job["runs"]]}) for job in jobs
                    ],
                    "events": [Event(**event) for event in fields["events"]],
                    "post_errors": Counter(fields["post_errors"]),
                }
            )
        )
    return outcomes


def stored() -> tuple[list[Outcome], str]:
    """The outcomes and the stamp the page shows, as the last `--write` run stored them."""
    data = json.loads(OUTCOMES_JSON.read_text(encoding="utf-8"))
    return from_data(data), data["stamp"]


def write(outcomes: list[Outcome], stamp_text: str) -> None:
    FIGURES.mkdir(parents=True, exist_ok=True)
    data = json.dumps(as_data(outcomes, stamp_text), indent=1, ensure_ascii=False)
    OUTCOMES_JSON.write_text(data + "\n", encoding="utf-8")
    DEPLOYS_MD.write_text(table(outcomes), encoding="utf-8")
    charts.write(lanes_chart(outcomes, stamp_text), DEPLOYS_SVG)


@contextmanager
def bench_settings(broker: str) -> Iterator[dict[str, str]]:
    """A deployment's settings on the benchmark's brokers (bench/stages.py), and its cleanup."""
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-deploy-{broker}-"))
    settings = {
        "embedded": stages.in_a_folder,
        "redis": stages.on_redis,
        "rabbitmq": stages.on_rabbitmq,
    }[broker](workdir)
    try:
        yield settings
    finally:
        queue_deployments.remove_space(settings)  # the folder, the Redis keys, the queue
        shutil.rmtree(workdir, ignore_errors=True)


BROKERS = ("embedded", "redis", "rabbitmq")


def summary(outcome: Outcome) -> str:
    errors = sum(outcome.post_errors.values())
    return (
        f"{outcome.broker}: {outcome.accepted} accepted, {outcome.completed} completed, "
        f"{outcome.lost} lost, {outcome.interrupted_ran_again} interrupted and run again, "
        f"{outcome.ran_to_end_twice} ran to their end twice, {outcome.strays} strays; longest "
        f"time queued {outcome.longest_wait:.1f} s; POST p50 {outcome.post_p50 * 1000:.0f} ms, p99 "
        f"{outcome.post_p99 * 1000:.0f} ms, {errors} failed attempts retried, "
        f"{outcome.posts_failed} failed; the deploy took {outcome.deploy_seconds:.1f} s"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.deploys",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--broker", action="append", choices=BROKERS, help="repeatable")
    parser.add_argument(
        "--write",
        action="store_true",
        help=f"store the figures in {FIGURES.relative_to(REPO_ROOT)}",
    )
    parser.add_argument(
        "--short", action="store_true", help="the suite's plan: seconds, not minutes"
    )
    parser.add_argument(
        "--redraw", action="store_true", help="draw the stored figures again, without a run"
    )
    args = parser.parse_args(argv)
    if args.redraw:
        write(*stored())
        return
    plan = SHORT if args.short else FULL
    outcomes = []
    for broker in args.broker or BROKERS:
        print(
            f"{broker}: {plan.jobs_per_second:g} jobs/s for {plan.load_seconds:g} s ...", flush=True
        )
        with bench_settings(broker) as settings:
            alone = measure(broker, plan, settings, deploying=False)
        print(f"  without a deploy: {summary(alone)}", flush=True)
        with bench_settings(broker) as settings:
            outcome = measure(broker, plan, settings)
        outcome.longest_wait_without_deploy = alone.longest_wait
        outcome.post_p99_without_deploy = alone.post_p99
        outcomes.append(outcome)
        print(summary(outcome), flush=True)
    if args.write:
        write(outcomes, stamp("Measured", by="make bench (python -m bench.deploys --write)"))
        print(f"written to {DEPLOYS_MD}, {OUTCOMES_JSON.name} and {DEPLOYS_SVG.name}")


if __name__ == "__main__":
    main()
