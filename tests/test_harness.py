"""The harness keeps its promise: a test that fails still stops every process it started."""

import sys

import psutil
import pytest

from uvicorn_harness.server import running_server, start_server


class DeliberateFailure(Exception):
    pass


def test_a_failing_block_still_stops_its_server_and_children() -> None:
    # `python -m step1_blocking` runs a reloader that spawns the real server as a child.
    command = [sys.executable, "-m", "step1_blocking"]
    with (
        pytest.raises(DeliberateFailure),
        running_server(command=command, env={"PORT": "0"}) as server,
    ):
        children = psutil.Process(server.pid).children(recursive=True)
        assert children, "the reloader should have started a server process"
        raise DeliberateFailure
    assert not server.group_is_alive()
    assert not any(runs(child) for child in children)


def runs(process: psutil.Process) -> bool:
    """Alive and not a zombie (a zombie waiting for init to reap it runs nothing)."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_server_that_cannot_start_is_reported_and_stopped() -> None:
    with pytest.raises(RuntimeError, match="exited during startup"):
        start_server("no_such_module.app:app")


# Two processes printing into one console at the same time, as `python -m step5_queue`'s API
# and worker do: every line must arrive whole, or a test misses "Exiting endpoint".
TWO_PRINTERS = """
import os, signal
pid = os.fork()
for n in range(2000):
    print(f"line {n} from {'child' if pid == 0 else 'parent'}")
if pid:
    os.waitpid(pid, 0)
    print("done")
    signal.pause()  # until the harness stops it
"""


def test_lines_two_processes_print_at_once_reach_the_console_whole() -> None:
    command = [sys.executable, "-c", TWO_PRINTERS]
    with running_server(command=command, ready_line="done", serves_http=False) as server:
        lines = server.console_lines()
    printed = {f"line {n} from {who}" for n in range(2000) for who in ("child", "parent")}
    assert set(lines) == printed | {"done"}
    assert len(lines) == len(printed) + 1
