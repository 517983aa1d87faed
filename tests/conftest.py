"""The suite's fixtures (servers per module or per test, the docs build, the measured timings),
and the hooks that hand out the work (tests/work_order.py) and keep the figures the run
measures (tests/figure_store.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from tests import figure_store, work_order
from tests.docs_build import DocsBuild, build_once
from tests.figure_store import STAGE_TIMINGS
from tests.services import left_out_lines, provide_services, under_ci
from tests.step5_deployments import remove_broker_spaces
from uvicorn_harness.server import STARTED, RunningServer, StartServer, server_starter
from uvicorn_harness.stage_timing import JOB_SECONDS, StageTiming, measure_one_job

THROWAWAY_SERVICES = pytest.StashKey[ExitStack]()


def pytest_addoption(parser: pytest.Parser) -> None:
    figure_store.add_option(parser)


def pytest_configure(config: pytest.Config) -> None:
    """Find or start the services before any test (or xdist worker) needs them."""
    if hasattr(config, "workerinput"):  # an xdist worker: the controller did it already
        return
    stack = ExitStack()
    missing = provide_services(stack)
    if missing and under_ci():
        stack.close()
        raise pytest.UsageError(
            f"CI=true and no {', '.join(missing)} answers: CI must run every test "
            "(.ci/run starts them; see tests/services.py)"
        )
    config.stash[THROWAWAY_SERVICES] = stack


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Units of work handed out longest first, the RUNS_ALONE ones last: tests/work_order.py."""
    return work_order.make_scheduler(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest unit of work first (tests/work_order.py); every xdist worker sorts alike."""
    place = {item.nodeid: item for item in items}
    items[:] = [place[nodeid] for nodeid in work_order.longest_first(list(place))]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Where the test runs: its seconds (for the work order) and whether it passed."""
    report = yield
    work_order.KIND.add(item.config, report)
    figure_store.note_passed(item.config, report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """A test that passed must have measured again every stored figure it measures."""
    result = yield  # a test that failed raises here, and is not checked
    figure_store.check_measured_again(item.config, item.nodeid)
    return result


def pytest_sessionfinish(session: pytest.Session) -> None:
    """An xdist worker hands its figures to the controller; the controller (or a run without
    xdist), which has every worker's by now, stores them with --write-figures."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["figure_store"] = figure_store.hand_off(session.config)
    else:
        figure_store.store_all(session.config)


def pytest_testnodedown(node: Any, error: object) -> None:
    """On the controller: keep what a finished xdist worker measured."""
    figure_store.take_over(node.config, getattr(node, "workeroutput", {}).get("figure_store", {}))


def pytest_unconfigure(config: pytest.Config) -> None:
    stack = config.stash.get(THROWAWAY_SERVICES, None)
    if stack is not None:
        stack.close()


@pytest.fixture(scope="session")
def docs_build(tmp_path_factory: pytest.TempPathFactory) -> DocsBuild:
    """Both editions of the docs site, built strictly once per run (shared by xdist workers)."""
    own = tmp_path_factory.getbasetemp()
    # Each xdist worker has its own folder in the run's; without xdist the run's is our own.
    return build_once(own.parent if os.environ.get("PYTEST_XDIST_WORKER") else own)


@pytest.fixture(scope="module")
def serve() -> Iterator[StartServer]:
    """Start servers shared by a module's tests; all stop when the module ends."""
    yield from server_starter()


@pytest.fixture
def serve_fresh() -> Iterator[StartServer]:
    """Start servers for one test (a clean state, other settings, a restart); all stop after it."""
    yield from server_starter()


@pytest.fixture(scope="module")
def stage_server(request: pytest.FixtureRequest, serve: StartServer) -> RunningServer:
    """The module's STAGE served with the short test job."""
    stage = request.module.STAGE
    return serve(f"{stage}.app:app", env={"TASK_SECONDS": str(JOB_SECONDS)})


@pytest.fixture(scope="module")
def stage_timing(request: pytest.FixtureRequest, stage_server: RunningServer) -> StageTiming:
    """One job measured on the module's stage server, kept for the summary table."""
    return STAGE_TIMINGS.record(
        request, measure_one_job(stage_server, request.module.STAGE, JOB_SECONDS)
    )


@pytest.fixture(scope="session", autouse=True)
def broker_spaces_removed() -> Iterator[None]:
    """Stage 5's queue folders, Redis keys and RabbitMQ queues go when the session ends."""
    yield
    remove_broker_spaces()


@pytest.fixture(scope="session", autouse=True)
def no_stray_processes() -> Iterator[None]:
    """After the whole run, no server process group that a test started may be left alive."""
    yield
    leftovers = [server.pid for server in STARTED if server.group_is_alive()]
    assert not leftovers, f"server process groups still alive after the run: {leftovers}"


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    skipped = [
        (report.nodeid.split("::")[0], str(report.longrepr[2]).removeprefix("Skipped: "))
        for report in terminalreporter.stats.get("skipped", [])
        if isinstance(report.longrepr, tuple)
    ]
    left_out = left_out_lines(skipped)
    if left_out:
        terminalreporter.write_sep("=", "left out: services this machine does not have")
        for line in left_out:
            terminalreporter.write_line(line)
    for title, lines in figure_store.summaries(config):
        terminalreporter.write_sep("=", title)
        terminalreporter.write_line(lines)
