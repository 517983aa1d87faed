"""Pitfalls inside one server: what makes a request wait, each proven against a real uvicorn.

In-process test clients (1), `time.sleep` in async code (2), the shared thread pool (3),
separate clients at once (10), an `@app.middleware("http")` in front of background tasks (13).
docs/pitfalls.md explains them in order; tests/test_pitfalls_processes.py and
tests/test_pitfalls_jobs.py prove the others. Each test records the figures it measured
(tests/pitfall_figures.py), and fails when the page's figure disagrees with this run's.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread
import pytest

from pitfalls import blocking_async, http_middleware
from pitfalls.concurrent_requests import send_at_once, timed_post
from pitfalls.in_process_clients import (
    seconds_for_post_with_asgi_transport,
    seconds_for_post_with_test_client,
)
from pitfalls.larger_thread_pool import THREAD_TOKENS
from pitfalls.slow_client import post_and_read_slowly
from step2_background import app as stage2
from step3_status import app as stage3
from tests.pitfall_figures import record_figure
from tests.pitfall_timing import FAST, JOB, POOL_JOB, SLOW, occurrences, seconds_for, wait_for_count
from tests.services import under_ci
from uvicorn_harness.server import REPO_ROOT, RunningServer, StartServer

DEFAULT_THREAD_TOKENS = 40  # anyio's default limiter, shared by every sync call in the app
STATUS_LOG = re.compile(r'"GET /status\?task_id=\S+ HTTP/1\.1" (\d{3})')

# --- 1. In-process test clients wait for background tasks ------------------------------------


def test_in_process_clients_return_only_after_the_job(
    request: pytest.FixtureRequest, serve: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The one place the suite uses in-process clients: how they differ from a real server is
    # the pitfall. Both await the whole ASGI call, and the background tasks run inside it.
    monkeypatch.setenv("TASK_SECONDS", str(JOB))
    asgi_transport = seconds_for_post_with_asgi_transport(stage2.app, "/long_task")
    test_client = seconds_for_post_with_test_client(stage2.app, "/long_task")
    server = serve("step2_background.app:app", env={"TASK_SECONDS": str(JOB)})
    real_server = timed_post(f"{server.url}/long_task")

    assert asgi_transport >= JOB
    assert test_client >= JOB
    assert real_server < JOB / 2  # generous for a loaded machine; still half the others
    job = f"(job {JOB:g} s)"
    transport_label = f"httpx.ASGITransport: POST returned after {job}"
    record_figure(request, "p1_asgi_transport", transport_label, asgi_transport, JOB * SLOW)
    test_client_label = f"TestClient: POST returned after {job}"
    record_figure(request, "p1_test_client", test_client_label, test_client, JOB * SLOW)
    real_server_label = f"real uvicorn server: POST returned after {job}"
    record_figure(request, "p1_real_server", real_server_label, real_server, FAST)


# --- 2. async def + time.sleep freezes the whole server ---------------------------------------


@pytest.fixture(scope="module")
def blocking_server(serve: StartServer) -> RunningServer:
    return serve("pitfalls.blocking_async:app", env={"TASK_SECONDS": str(JOB)})


SLEEPERS = [
    # (route, the sleeper's name as it prints it, does it freeze the server?)
    ("/endpoint/async_time_sleep", "async_endpoint_with_time_sleep", True),
    ("/endpoint/def_time_sleep", "def_endpoint_with_time_sleep", False),
    ("/endpoint/async_asyncio_sleep", "async_endpoint_with_asyncio_sleep", False),
    ("/job/async_time_sleep", "async_job_with_time_sleep", True),
    ("/job/def_time_sleep", "def_job_with_time_sleep", False),
    ("/job/async_asyncio_sleep", "async_job_with_asyncio_sleep", False),
]


@pytest.mark.parametrize(("route", "sleeper", "freezes"), SLEEPERS, ids=[s[1] for s in SLEEPERS])
def test_only_time_sleep_in_async_code_makes_other_requests_wait(
    request: pytest.FixtureRequest,
    blocking_server: RunningServer,
    route: str,
    sleeper: str,
    freezes: bool,
) -> None:
    since = blocking_server.mark()
    with ThreadPoolExecutor(max_workers=1) as pool:
        sleeping = pool.submit(timed_post, blocking_server.url + route)
        blocking_server.wait_for_line(f"{blocking_async.SLEEPING} {sleeper}", since)
        # The bystander: an async endpoint that does nothing, sent while the sleep runs.
        client = blocking_server.http  # made before the clock starts (seconds_for's note)
        ping = seconds_for(lambda: client.get("/ping").raise_for_status())
        sleeping.result()

    if freezes:
        assert ping >= JOB / 2, f"/ping should wait for {sleeper}'s sleep, took {ping:.3f} s"
    else:
        assert ping < JOB / 3, f"/ping should not wait for {sleeper}, took {ping:.3f} s"
    record_figure(
        request,
        f"p2_{sleeper}",
        f"GET /ping while `{sleeper}` sleeps {JOB:g} s",
        ping,
        tolerance=JOB * SLOW if freezes else FAST,
    )


# --- 3. The shared thread pool starves --------------------------------------------------------


@dataclass(frozen=True)
class PoolRun:
    """What one server did with a batch of stage-3 jobs in flight."""

    status_seconds: dict[int, float]  # jobs in flight -> how long GET /status took
    lines: list[str]  # everything the server printed from the first POST on


def post_jobs(server: RunningServer, count: int, since: int) -> None:
    """POST `count` jobs, then wait until the server has started every job posted since `since`."""
    already = len(occurrences(server.console_lines(since), stage3.STARTING))
    for _ in range(count):
        server.http.post("/long_task").raise_for_status()
    wait_for_count(server, stage3.STARTING, already + count, since)


def time_status(server: RunningServer) -> float:
    """Seconds for one GET /status; returns once uvicorn's access line for it has been read."""
    since = server.mark()
    # Any id will do: the question is when the endpoint gets to run, not what it answers. With
    # every thread busy, the answer waits for a job to end: up to a whole job, or longer on a
    # busy machine.
    params, timeout = {"task_id": "any"}, POOL_JOB * 10
    seconds = seconds_for(lambda: server.http.get("/status", params=params, timeout=timeout))
    server.wait_for_line(lambda line: bool(STATUS_LOG.search(line)), since)
    return seconds


def stop_at_once(server: RunningServer) -> None:
    """SIGKILL: the jobs still sleeping would otherwise hold up the graceful stop."""
    server.stop(signal.SIGKILL)


@pytest.fixture(scope="module")
def stage3_pool(serve: StartServer) -> PoolRun:
    """Stage 3 as it is: 39 jobs, then 40, then a 41st POST sent while the 40 run."""
    server = serve("step3_status.app:app", env={"TASK_SECONDS": str(POOL_JOB)})
    since = server.mark()
    status_seconds = {}
    post_jobs(server, DEFAULT_THREAD_TOKENS - 1, since)
    status_seconds[DEFAULT_THREAD_TOKENS - 1] = time_status(server)
    post_jobs(server, 1, since)
    with ThreadPoolExecutor(max_workers=1) as pool:
        forty_first = pool.submit(timed_post, f"{server.url}/long_task")
        status_seconds[DEFAULT_THREAD_TOKENS] = time_status(server)
        forty_first.result()
    wait_for_count(server, stage3.STARTING, DEFAULT_THREAD_TOKENS + 1, since)
    lines = server.console_lines(since)
    stop_at_once(server)
    return PoolRun(status_seconds, lines)


def fix_pool_run(serve: StartServer, app: str, jobs: int) -> PoolRun:
    """`jobs` stage-3 jobs in flight on a fixed app, then GET /status."""
    server = serve(app, env={"TASK_SECONDS": str(POOL_JOB)})
    since = server.mark()
    post_jobs(server, jobs, since)
    status = time_status(server)
    lines = server.console_lines(since)
    stop_at_once(server)
    return PoolRun({jobs: status}, lines)


def status_answered_before_any_job_ended(lines: list[str], nth: int = -1) -> bool:
    """Did uvicorn log the nth GET /status (the last by default) before any "Ending long task"?"""
    status_line = [n for n, line in enumerate(lines) if STATUS_LOG.search(line)][nth]
    return not occurrences(lines[:status_line], stage3.ENDING)


def test_the_default_thread_pool_has_40_tokens() -> None:
    async def total_tokens() -> float:
        return anyio.to_thread.current_default_thread_limiter().total_tokens

    assert anyio.run(total_tokens) == DEFAULT_THREAD_TOKENS


def test_status_answers_at_once_with_39_jobs_in_flight(
    request: pytest.FixtureRequest, stage3_pool: PoolRun
) -> None:
    seconds = stage3_pool.status_seconds[DEFAULT_THREAD_TOKENS - 1]
    assert status_answered_before_any_job_ended(stage3_pool.lines, nth=0)
    assert seconds < POOL_JOB / 5
    record_figure(
        request,
        "p3_status_39_jobs",
        f"stage 3, 39 jobs of {POOL_JOB:g} s in flight: GET /status took",
        seconds,
        tolerance=FAST,
    )


def test_status_waits_for_a_job_to_end_with_40_jobs_in_flight(
    request: pytest.FixtureRequest, stage3_pool: PoolRun
) -> None:
    seconds = stage3_pool.status_seconds[DEFAULT_THREAD_TOKENS]
    # The server's own console orders it: /status ran only after the first job ended.
    assert not status_answered_before_any_job_ended(stage3_pool.lines)
    assert seconds > POOL_JOB / 3
    record_figure(
        request,
        "p3_status_40_jobs",
        f"stage 3, 40 jobs of {POOL_JOB:g} s in flight: GET /status took",
        seconds,
        tolerance=POOL_JOB * SLOW,
    )


def test_the_41st_job_starts_only_when_a_slot_frees(stage3_pool: PoolRun) -> None:
    first_end = occurrences(stage3_pool.lines, stage3.ENDING)[0]
    starts = occurrences(stage3_pool.lines, stage3.STARTING)
    assert len(starts) == DEFAULT_THREAD_TOKENS + 1
    assert starts[DEFAULT_THREAD_TOKENS - 1] < first_end < starts[DEFAULT_THREAD_TOKENS]


def test_async_status_endpoint_answers_at_once_with_40_jobs_in_flight(
    request: pytest.FixtureRequest, serve: StartServer
) -> None:
    # POST /long_task is still a sync endpoint, so a 41st POST would wait: keep to 40 jobs.
    run = fix_pool_run(serve, "pitfalls.async_status:app", DEFAULT_THREAD_TOKENS)
    seconds = run.status_seconds[DEFAULT_THREAD_TOKENS]
    assert status_answered_before_any_job_ended(run.lines)
    assert seconds < POOL_JOB / 5
    record_figure(
        request,
        "p3_async_status_40_jobs",
        "fix 1, `async def status`, 40 jobs in flight: GET /status took",
        seconds,
        tolerance=FAST,
    )


def test_larger_thread_pool_runs_45_jobs_at_once_and_answers_status(
    request: pytest.FixtureRequest, serve: StartServer
) -> None:
    jobs = DEFAULT_THREAD_TOKENS + 5
    run = fix_pool_run(serve, "pitfalls.larger_thread_pool:app", jobs)
    assert len(occurrences(run.lines, stage3.STARTING)) == jobs  # all started, none waited
    assert status_answered_before_any_job_ended(run.lines)
    assert run.status_seconds[jobs] < POOL_JOB / 5
    record_figure(
        request,
        "p3_larger_pool_45_jobs",
        f"fix 2, {THREAD_TOKENS} tokens, {jobs} jobs in flight: GET /status took",
        run.status_seconds[jobs],
        tolerance=FAST,
    )


# --- 10. Browsers serialise identical requests ------------------------------------------------


@pytest.fixture(scope="module")
def stage1_server(serve: StartServer) -> RunningServer:
    return serve("step1_blocking.app:app", env={"TASK_SECONDS": str(JOB)})


def test_separate_clients_are_served_at_the_same_time(
    request: pytest.FixtureRequest, stage1_server: RunningServer
) -> None:
    # Stage 1 blocks each client for the whole job, yet three clients at once all finish after
    # one job, not three: the server is concurrent; a browser's tabs would queue.
    started = time.monotonic()
    each = send_at_once(f"{stage1_server.url}/long_task", count=3)
    together = time.monotonic() - started
    assert all(seconds >= JOB for seconds in each)
    assert together < 2 * JOB
    label = f"stage 1, three clients at once, {JOB:g} s job each: all done after"
    record_figure(request, "p10_three_at_once", label, together, tolerance=JOB * SLOW)


def test_the_curl_script_sends_its_requests_at_the_same_time(
    stage1_server: RunningServer,
) -> None:
    if shutil.which("curl") is None:  # the page's script is for readers who have curl
        reason = "needs curl: the page's script runs it (sudo apt-get install curl)"
        if under_ci():
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    script = REPO_ROOT / "pitfalls" / "concurrent_curl.sh"
    started = time.monotonic()
    result = subprocess.run(
        ["bash", str(script), f"{stage1_server.url}/long_task"],
        capture_output=True,
        text=True,
        check=True,
        timeout=10 * JOB,
    )
    together = time.monotonic() - started
    each = [float(seconds) for seconds in re.findall(r"request \d: ([\d.]+) s", result.stdout)]
    assert len(each) == 3, result.stdout + result.stderr
    assert all(seconds >= JOB for seconds in each)
    assert together < 2 * JOB


# --- 13. @app.middleware("http") and background tasks -----------------------------------------


@pytest.fixture(scope="module")
def middleware_server(serve: StartServer) -> RunningServer:
    return serve("pitfalls.http_middleware:app", env={"TASK_SECONDS": str(JOB)})


MIDDLEWARE_ROUTES = [
    # (route, what the whole response body must be)
    ("/long_task", '{"status":"long task started"}'),
    ("/streamed_task", "".join(f"chunk {n}\n" for n in range(http_middleware.CHUNKS))),
]


@pytest.mark.parametrize(("route", "body"), MIDDLEWARE_ROUTES, ids=["json", "streamed"])
def test_an_http_middleware_still_sends_the_response_before_the_job_starts(
    request: pytest.FixtureRequest, middleware_server: RunningServer, route: str, body: str
) -> None:
    server = middleware_server
    since = server.mark()
    client = server.http  # made before the clock starts (seconds_for's note)
    started = time.monotonic()
    response = client.post(route)  # returns once the whole body has arrived
    response_seconds = time.monotonic() - started
    assert response.status_code == 200
    assert response.text == body
    server.wait_for_line(stage2.ENDING, since)
    lines = server.console_lines(since)
    access = next(n for n, line in enumerate(lines) if f'"POST {route} HTTP/1.1" 200' in line)
    # The middleware lets go of the response, uvicorn logs it as it starts, then the job starts.
    assert lines.index(http_middleware.MIDDLEWARE_OUT) < access < lines.index(stage2.STARTING)
    assert response_seconds < JOB / 2  # had the client waited for the job, it would be >= JOB
    label = f'`@app.middleware("http")`, {route} with a {JOB:g} s job: the whole response took'
    record_figure(request, f"p13_{route.strip('/')}_response", label, response_seconds, FAST)


# Still on its way when the job rightly starts: what the server's socket buffer holds (Linux
# autotunes it up to net.ipv4.tcp_wmem's maximum, 4 MB by default: 2.7 to 4.2 MB measured on 2
# busy cores) and the client's receive buffer. The server cannot have written more before the
# client read it, however the scheduler treats either process, so it is ~26 % of the body at
# most; the job starting at the response's start leaves ~100 % unread. Half the body between.
UNREAD_SHARE_BOUND = 50
TCP_WMEM = Path("/proc/sys/net/ipv4/tcp_wmem")


def test_an_http_middleware_runs_the_job_only_once_a_slow_client_has_most_of_a_large_body(
    request: pytest.FixtureRequest, middleware_server: RunningServer
) -> None:
    """The guard against starlette #3458 (https://github.com/Kludex/starlette/issues/3458):
    in Starlette 1.6.0, with a BaseHTTPMiddleware in the stack, the inner response's
    `send` returned as soon as the middleware's stream had taken its last body message, and
    the response then ran its background task while the middleware was still sending the
    body. #3476 (https://github.com/Kludex/starlette/pull/3476, in 1.7.0) makes that `send`
    wait until the middleware has sent the whole response (its `response_sent` event).

    A small body or a fast client hides it: the body is gone before the task gets going. So
    a 16 MB body is read by a slow client (pitfalls/slow_client.py), and the job's console
    line is placed among the client's reads: on 1.6.0 the job starts before the client has
    read any of the body, on the pinned Starlette once all but what the kernel's socket
    buffers hold has arrived."""
    if TCP_WMEM.exists():
        most_buffered = int(TCP_WMEM.read_text().split()[-1])
        assert most_buffered <= http_middleware.REPORT_BYTES / 4, (
            f"this kernel buffers up to {most_buffered} bytes per socket: the body must be larger"
        )
    server = middleware_server
    since = server.mark()
    read = post_and_read_slowly(server.port, "/report_task")
    assert read.status == 200
    assert read.body_bytes == read.content_length == http_middleware.REPORT_BYTES
    started = server.wait_for_line(stage2.STARTING, since)
    unread = read.total_bytes - read.received_by(started.at)
    unread_share = 100 * unread / read.total_bytes
    assert unread_share < UNREAD_SHARE_BOUND, (
        f"the job started with {unread} of the response's {read.total_bytes} bytes unread "
        f"({unread_share:.0f} %), {read.last_byte_at - started.at:.2f} s before the last one "
        f"arrived: it started while the body was still being sent"
    )
    server.wait_for_line(stage2.ENDING, since)  # the next test's console starts clean
    label = (
        f'`@app.middleware("http")`, a {http_middleware.REPORT_BYTES // 2**20} MB body read '
        "by a slow client: still unread when the job started"
    )
    # The cases to tell apart are at most ~26 % and ~100 %: 25 points is under half the gap.
    record_figure(request, "p13_report_unread_share", label, unread_share, tolerance=25)
