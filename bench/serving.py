"""One stage served for the benchmark: its API server (and worker), with one job length.

Servers are started by uvicorn_harness/server.py, the one place that knows how to start uvicorn. Job
endings are counted from the console ("Ending long task"), so every stage, with or without
GET /status, is timed the same way and the polling adds no load to the server being measured.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
from pathlib import Path

import psutil

from bench.stages import Stage
from uvicorn_harness.server import RunningServer, start_server, wait_until
from uvicorn_harness.stages import console_module

# uvicorn's access log is off: the bench process reads every console line, and a line per
# request would cost the measuring client CPU on a small machine. The stages' own prints stay.
UVICORN_ARGS = ("--no-access-log",)
CONSOLE_TAIL = 30


def ending_line(stage: Stage) -> str:
    """The stage's own "job ended" console string, `ENDING`, defined once in its code."""
    return str(console_module(stage.package).ENDING)


class JobEndings:
    """Counts "job ended" lines across the deployment's consoles, scanning only new lines."""

    def __init__(self, servers: list[RunningServer], ending: str) -> None:
        self._servers = servers
        self._ending = ending
        self._scanned = [0] * len(servers)
        self.times: list[float] = []  # monotonic time of every ending seen

    def count(self) -> int:
        for index, server in enumerate(self._servers):
            new_lines = server.lines[self._scanned[index] :]
            self._scanned[index] += len(new_lines)
            # Each line is whole: the harness line-buffers every console it reads, as a terminal.
            self.times.extend(line.at for line in new_lines if line.text == self._ending)
        return len(self.times)


class Deployment:
    """The stage's processes for one job length; `submitted` counts jobs handed to it."""

    def __init__(self, stage: Stage, job_seconds: float, concurrency: int | None = None) -> None:
        self.stage = stage
        self.job_seconds = job_seconds
        self.concurrency = concurrency or stage.default_concurrency
        self.submitted = 0
        self._workdir = Path(tempfile.mkdtemp(prefix=f"bench-{stage.package}-"))
        self._settings: dict[str, str] = {}
        self.servers: list[RunningServer] = []
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.endings = JobEndings(self.servers, ending_line(stage))

    def _start(self) -> None:
        self._settings = self.stage.settings(self._workdir)
        env = {"TASK_SECONDS": f"{self.job_seconds:g}", **self._settings}
        self.api = start_server(self.stage.app, args=UVICORN_ARGS, env=env)
        self.servers.append(self.api)
        if self.stage.worker_command is not None:
            worker = start_server(
                command=self.stage.worker_command(self.concurrency or 1),
                env=env,
                ready_line=self.stage.worker_ready_line,
                serves_http=False,
            )
            self.servers.append(worker)

    @property
    def url(self) -> str:
        return self.api.url

    def in_flight(self) -> int:
        return self.submitted - self.endings.count()

    def wait_for_endings(self, count: int, timeout: float) -> None:
        try:
            wait_until(lambda: self.endings.count() >= count, timeout, f"{count} jobs to end")
        except TimeoutError as error:
            # Say what the processes printed last: a lost or failed job shows up there.
            tails = ["\n".join(server.console_lines()[-CONSOLE_TAIL:]) for server in self.servers]
            raise TimeoutError(
                f"{error}; {self.endings.count()} of {count} ended. Last lines printed:\n"
                + "\n---\n".join(tails)
            ) from None

    def settle(self, timeout: float) -> bool:
        """Wait until no job is in flight; False if some still are after `timeout`."""
        try:
            wait_until(lambda: self.in_flight() <= 0, timeout, "jobs to finish")
        except TimeoutError:
            return False
        return True

    def rss_bytes(self) -> int:
        """Resident memory of every process of the deployment (servers and their children)."""
        total = 0
        for server in self.servers:
            try:
                root = psutil.Process(server.pid)
                processes = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            for process in processes:
                try:
                    total += process.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
        return total

    def stop(self) -> None:
        # SIGKILL: a graceful stop would wait for every job still in flight, and the bench
        # throws the deployment away (its scratch folder too) once it has its numbers.
        for server in reversed(self.servers):
            server.stop(signal.SIGKILL)
        shutil.rmtree(self._workdir, ignore_errors=True)
        if self.stage.cleanup is not None and self._settings:
            self.stage.cleanup(self._settings)
