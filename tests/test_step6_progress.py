"""Stage 6: the job reports its steps, a client watches them as Server-Sent Events, and a job can
be cancelled while queued or running.

One Celery worker (two processes) and two API processes on the same embedded queue serve the
module: a stream from either API process must tell the same story; `python -m step6_progress`
measures one job for the run's stage-timings table. The status contract is proven for stage 6 in
test_status_contract.py, its crashes in test_step5_queue_crashes.py; the live page and Flower in
test_step6_live_page.py.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from step6_progress.tasks import CANCELLED_LINE, ENDING, STARTING, STEPS
from tests.console_check import assert_console_matches
from tests.step5_deployments import embedded_env, post_job, start_api, start_worker
from uvicorn_harness.server import RunningServer, StartServer, wait_until
from uvicorn_harness.stage_timing import JOB_SECONDS as SUMMARY_JOB_SECONDS
from uvicorn_harness.stage_timing import StageTiming, assert_answered_in_a_fraction_of_the_job

STAGE = "step6_progress"
# Ten steps of 0.15 s: several steps for the stream to report, and a job over in seconds.
JOB_SECONDS = 1.5
# A stream that sends nothing for this long has stalled: the test fails instead of hanging.
STREAM_READ_SECONDS = 20.0
FINISHED = {"completed", "failed", "cancelled"}
WORKER_READY = " ready."  # the end of the worker's "celery@host ready." line


@dataclass(frozen=True)
class Event:
    id: int
    task: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.task["status"])

    @property
    def done(self) -> int | None:
        steps = self.task["progress"]
        return None if steps is None else int(steps["done"])


def read_events(
    api: RunningServer,
    task_id: str,
    last_event_id: int | None = None,
    until: Callable[[list[Event]], bool] | None = None,
    into: list[Event] | None = None,
) -> list[Event]:
    """The events of the job's stream, as an EventSource parses them, until the server ends the
    stream (or `until` says enough). `into` receives each event as it comes, for a watcher."""
    headers = {} if last_event_id is None else {"Last-Event-ID": str(last_event_id)}
    events: list[Event] = [] if into is None else into
    path = f"/tasks/{task_id}/events"
    with api.http.stream("GET", path, headers=headers, timeout=STREAM_READ_SECONDS) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        for line in response.iter_lines():
            if line:
                name, _, value = line.partition(": ")
                fields[name] = value
                continue
            if "data" in fields:  # a blank line ends an event; a ": ping" comment has no data
                events.append(Event(int(fields["id"]), json.loads(fields["data"])))
                if until is not None and until(events):
                    break
            fields = {}
    return events


def cancel(api: RunningServer, task_id: str) -> httpx.Response:
    return api.http.post(f"/tasks/{task_id}/cancel")


def task_of(api: RunningServer, task_id: str) -> dict[str, Any]:
    task: dict[str, Any] = api.http.get(f"/tasks/{task_id}").json()
    return task


def reached_step(step: int) -> Callable[[list[Event]], bool]:
    return lambda events: (events[-1].done or 0) >= step and events[-1].status == "running"


@pytest.fixture(scope="module")
def queue_env() -> dict[str, str]:
    return {**embedded_env(), "TASK_SECONDS": str(JOB_SECONDS)}


@pytest.fixture(scope="module")
def worker(serve: StartServer, queue_env: dict[str, str]) -> RunningServer:
    return start_worker(serve, queue_env, concurrency=2, stage=STAGE)


@pytest.fixture(scope="module")
def apis(
    serve: StartServer, queue_env: dict[str, str], worker: RunningServer
) -> list[RunningServer]:
    with ThreadPoolExecutor(2) as starting:
        return list(starting.map(lambda _: start_api(serve, queue_env, STAGE), range(2)))


@pytest.fixture(scope="module")
def watched_job(apis: list[RunningServer]) -> tuple[str, list[list[Event]]]:
    """One job posted to the first API process and watched from both, to its end."""
    task_id = post_job(apis[0])
    with ThreadPoolExecutor(2) as watching:
        streams = list(watching.map(lambda api: read_events(api, task_id), apis))
    return task_id, streams


def assert_tells_a_whole_run(events: list[Event]) -> None:
    ids = [event.id for event in events]
    assert ids == sorted(set(ids)), f"event ids not strictly increasing: {ids}"
    assert events[-1].status == "completed", [event.status for event in events]
    assert events[-1].task["progress"] == {"done": STEPS, "total": STEPS}
    assert all(event.status in {"queued", "running"} for event in events[:-1])
    steps = [event.done for event in events if event.status == "running"]
    assert steps == sorted(set(steps)), f"progress not rising: {steps}"
    # One event per step the stream saw: more than a jump from start to end. (It reads every
    # 0.2 s, the job steps every 0.15 s: some steps fall between two reads.)
    assert len(steps) >= 3, steps


def test_progress_rises_to_n_and_the_stream_ends_with_completed(
    watched_job: tuple[str, list[list[Event]]],
) -> None:
    _, (from_first, _) = watched_job
    assert_tells_a_whole_run(from_first)


def test_a_second_api_process_streams_the_same_job_with_the_same_ids(
    watched_job: tuple[str, list[list[Event]]],
) -> None:
    task_id, (from_first, from_second) = watched_job
    assert_tells_a_whole_run(from_second)
    # Each process reads the states at its own moments, but an id means the same event in both.
    first = {event.id: event.task for event in from_first}
    common = [event for event in from_second if event.id in first]
    assert len(common) >= 2, (from_first, from_second)  # the final event at least, and others
    assert all(first[event.id] == event.task for event in common)
    assert all(event.task["id"] == task_id for event in from_first + from_second)


def test_reconnecting_with_last_event_id_sends_only_what_is_new(
    apis: list[RunningServer],
) -> None:
    task_id = post_job(apis[0])
    before = read_events(apis[0], task_id, until=reached_step(2))
    # A browser reconnects with the last id it got; here to the other API process.
    after = read_events(apis[1], task_id, last_event_id=before[-1].id)
    assert all(event.id > before[-1].id for event in after), (before, after)
    assert after[0].done is not None and before[-1].done is not None
    assert after[0].done > before[-1].done, (before[-1], after[0])
    assert after[-1].status == "completed"
    # With the final event in hand, reconnecting gets 204: EventSource stops reconnecting.
    headers = {"Last-Event-ID": str(after[-1].id)}
    again = apis[0].http.get(f"/tasks/{task_id}/events", headers=headers)
    assert again.status_code == 204


def test_cancelling_a_running_job_stops_it_within_one_step(
    apis: list[RunningServer], worker: RunningServer
) -> None:
    since = worker.mark()
    task_id = post_job(apis[0])
    seen = read_events(apis[0], task_id, until=reached_step(2))
    response = cancel(apis[1], task_id)
    assert response.status_code == 202, response.text
    answered = response.json()
    # The job looks for the request before each step: at most the step under way ends first.
    assert answered["status"] in {"running", "cancelled"}
    rest = read_events(apis[0], task_id, last_event_id=seen[-1].id)
    assert rest[-1].status == "cancelled"
    assert rest[-1].done is not None
    assert rest[-1].done <= answered["progress"]["done"] + 1 < STEPS + 1
    assert rest[-1].done < STEPS
    worker.wait_for_line(CANCELLED_LINE, since)
    # Celery logs the job as "ignored": it stored our CANCELLED state and nothing after it.
    worker.wait_for_line(lambda text: f"[{task_id}] ignored" in text, since)
    assert ENDING not in worker.console_lines(since)
    assert_console_matches("step6_progress", worker.console_lines(since))
    # Asking again changes nothing, and says so.
    twice = cancel(apis[0], task_id)
    assert (twice.status_code, twice.json()["status"]) == (202, "cancelled")
    assert twice.json()["progress"] == rest[-1].task["progress"]


def test_cancelling_a_queued_job_means_it_never_starts(
    apis: list[RunningServer], worker: RunningServer
) -> None:
    # The worker's two processes take the first two jobs; the third waits in the queue.
    since = worker.mark()
    running = [post_job(apis[0]) for _ in range(2)]
    waiting = post_job(apis[0])
    assert task_of(apis[0], waiting)["status"] == "queued"
    response = cancel(apis[1], waiting)
    assert response.status_code == 202
    assert response.json()["status"] == "cancelled"
    assert response.json()["progress"] == {"done": 0, "total": STEPS}
    assert [event.status for event in read_events(apis[0], waiting)] == ["cancelled"]
    # When a process is free, the worker takes the message and, told by the revoke, drops it.
    worker.wait_for_line(lambda text: "Discarding revoked task: " in text and waiting in text)
    wait_until(
        lambda: all(task_of(apis[0], task_id)["status"] == "completed" for task_id in running),
        20,
        "the running jobs to complete",
    )
    assert worker.console_lines(since).count(STARTING) == len(running)
    assert task_of(apis[0], waiting)["status"] == "cancelled"
    assert cancel(apis[0], waiting).status_code == 202  # twice is harmless


def test_cancelling_a_finished_job_is_409(
    apis: list[RunningServer], watched_job: tuple[str, list[list[Event]]]
) -> None:
    task_id, _ = watched_job
    response = cancel(apis[1], task_id)
    assert (response.status_code, response.json()) == (409, {"detail": "Task already completed"})
    assert task_of(apis[0], task_id)["status"] == "completed"


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/tasks/{}/cancel"), ("GET", "/tasks/{}/events"), ("GET", "/tasks/{}")],
)
def test_an_unknown_id_is_404(apis: list[RunningServer], method: str, path: str) -> None:
    response = apis[0].http.request(method, path.format("not-a-task"))
    assert (response.status_code, response.json()) == (404, {"detail": "Item not found"})


def test_a_stream_open_while_the_pool_process_dies_shows_the_job_run_again(
    apis: list[RunningServer], worker: RunningServer, queue_env: dict[str, str]
) -> None:
    since = worker.mark()
    task_id = post_job(apis[0])
    events: list[Event] = []
    with ThreadPoolExecutor(1) as watching:
        stream = watching.submit(read_events, apis[1], task_id, into=events)
        wait_until(lambda: events and reached_step(2)(events), 20, "step 2 on the stream")
        # The pool process running the job holds its lease (tasks.py), which names its pid.
        lease = Path(queue_env["QUEUE_FOLDER"]) / "leases" / f"{task_id}.json"
        psutil.Process(json.loads(lease.read_text())["pid"]).kill()
        stream.result()
    ids = [event.id for event in events]
    assert ids == sorted(set(ids)), ids
    runs = [event.task["run"] for event in events if event.status == "running"]
    assert runs == sorted(runs) and runs[0] == 1 and runs[-1] == 2, runs
    # (Which step of run 2 the stream sees first depends on when it reads: while run 1's last
    # state stands still, the stream reads ever less often, up to once a second.)
    assert events[-1].status == "completed" and events[-1].task["run"] == 2
    assert worker.console_lines(since).count(STARTING) == 2


@pytest.fixture(scope="module")
def stage_server(serve: StartServer) -> RunningServer:
    """`python -m step6_progress`, the API and its worker in one console, with the summary
    table's job: the server the conftest's `stage_timing` measures one job on."""
    env = {**embedded_env(), "TASK_SECONDS": str(SUMMARY_JOB_SECONDS), "PORT": "0"}
    server = serve(command=[sys.executable, "-m", STAGE], env=env)
    server.wait_for_line(lambda text: text.endswith(WORKER_READY))
    return server


def test_the_response_leaves_before_a_worker_starts_the_job(stage_timing: StageTiming) -> None:
    # The worker's lines and the API's each keep their order, not the order between them.
    app_lines = [event for event in stage_timing.console_order if event != "POST 200"]
    assert app_lines == ["entering", "exiting", "starting", "ending"]
    assert "POST 200" in stage_timing.console_order
    assert_answered_in_a_fraction_of_the_job(stage_timing)
