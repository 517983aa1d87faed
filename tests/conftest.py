"""Fixtures only: servers per module or per test, the measured timings, and the summary table."""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from tests import crash_table, work_order
from tests.docs_build import DocsBuild, build_once
from tests.pitfall_figures import WRITE_FIGURES, Figure, format_figures, live_figures, record
from tests.services import left_out_lines, provide_services, under_ci
from tests.step5_deployments import remove_broker_spaces
from uvicorn_harness.server import STARTED, RunningServer, StartServer, server_starter
from uvicorn_harness.stage_timing import JOB_SECONDS, StageTiming, format_table, measure_one_job

TIMINGS = pytest.StashKey[list[StageTiming]]()
THROWAWAY_SERVICES = pytest.StashKey[ExitStack]()
MEASURED_SECONDS: Counter[str] = Counter()  # by test, with DURATIONS=write


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
    """xdist's `loadfile` (a module is one unit of work), except in the modules whose every
    test is a unit of its own (work_order.SPREAD_ACROSS_WORKERS). Units are handed out in
    collection order, which pytest_collection_modifyitems made longest first. (`--dist
    loadgroup` with an xdist_group mark per module would group nothing on pytest 9.2:
    pytest-xdist#1386.)"""
    from xdist.scheduler import LoadScopeScheduling

    class ByUnitOfWork(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_order.unit_of(nodeid)

    return ByUnitOfWork(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest unit of work first (tests/work_order.py); every xdist worker sorts alike."""
    place = {item.nodeid: item for item in items}
    items[:] = [place[nodeid] for nodeid in work_order.longest_first(list(place))]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """With DURATIONS=write, keep each test's seconds (on the controller, from every worker)."""
    if work_order.WRITE_DURATIONS:
        MEASURED_SECONDS[report.nodeid] += report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    """An xdist worker hands what it measured to the controller, which prints the summary."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["stage_timings"] = [
            dataclasses.asdict(timing) for timing in session.config.stash.get(TIMINGS, [])
        ]
        workeroutput["pitfall_figures"] = [
            dataclasses.asdict(figure) for figure in live_figures(session.config)
        ]
        workeroutput["crash_cells"] = [
            dataclasses.asdict(cell) for cell in crash_table.live_cells(session.config)
        ]
    else:
        # The controller (or a run without xdist): every worker's results are in by now.
        if WRITE_FIGURES and crash_table.live_cells(session.config):
            crash_table.store(crash_table.live_cells(session.config))
        if work_order.WRITE_DURATIONS and MEASURED_SECONDS:
            work_order.store(MEASURED_SECONDS)


def pytest_testnodedown(node: Any, error: object) -> None:
    """On the controller: keep what a finished xdist worker measured, for the summary."""
    output = getattr(node, "workeroutput", {})
    config = node.config
    for fields in output.get("stage_timings", []):
        fields |= {key: tuple(fields[key]) for key in ("console_order", "console")}
        config.stash.setdefault(TIMINGS, []).append(StageTiming(**fields))
    for fields in output.get("pitfall_figures", []):
        record(config, Figure(**fields))
    for fields in output.get("crash_cells", []):
        crash_table.keep(config, crash_table.Cell(**fields))


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
    timing = measure_one_job(stage_server, request.module.STAGE, JOB_SECONDS)
    request.config.stash.setdefault(TIMINGS, []).append(timing)
    return timing


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
    timings = config.stash.get(TIMINGS, [])
    if timings:
        terminalreporter.write_sep("=", "stage timings measured by this run (one job each)")
        terminalreporter.write_line(format_table(timings))
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
    figures = live_figures(config)
    if figures:
        terminalreporter.write_sep("=", "pitfall figures measured by this run")
        terminalreporter.write_line(format_figures(figures))
    cells = crash_table.live_cells(config)
    if cells:
        terminalreporter.write_sep("=", "stage 5 crash recoveries measured by this run")
        terminalreporter.write_line(crash_table.format_cells(cells))
