"""The one place that knows how to start an app under a real uvicorn and read its console.

A server runs as a reader would run it: `python -m uvicorn PKG.app:app` in a subprocess,
stdout and stderr merged, each line sent at once and whole. Every console line is kept with a
monotonic timestamp, so a test can ask both "in what order" and "when".
"""

from __future__ import annotations

import atexit
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TypeVar

import httpx
import psutil

REPO_ROOT = Path(__file__).resolve().parent.parent
RUNNING_ON = re.compile(r"Uvicorn running on https?://[^:\s]+:(\d+)")
STARTUP_SECONDS = 30.0
STOP_SECONDS = 10.0

T = TypeVar("T")

# Every server this test process started, so the suite can prove none outlives it.
STARTED: list[RunningServer] = []


@dataclass(frozen=True)
class ConsoleLine:
    at: float  # time.monotonic() when the line was read
    text: str


def wait_until(
    condition: Callable[[], T | None],
    timeout: float,
    message: str = "condition",
    interval: float = 0.02,
) -> T:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {message}")
        time.sleep(interval)


@dataclass
class RunningServer:
    """A started server process, its URL once bound, and everything it has printed."""

    process: subprocess.Popen[str]
    lines: list[ConsoleLine] = field(default_factory=list)
    port: int | None = None
    # What stop() sends first. Celery workers in tests take SIGKILL: their warm shutdown
    # (finish jobs, join pool threads) takes seconds that no test measures.
    stop_signal: int = signal.SIGTERM
    _reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    @cached_property
    def http(self) -> httpx.Client:
        """One HTTP client for this server, closed when it stops. (`httpx.get()` builds a client
        per call, and every client an SSL context, certifi's bundle parsed, even for http://:
        about 15 ms of CPU. Polled every 20 ms, that would be most of a test process's CPU.)"""
        # Idle connections are dropped after 1 s, well before uvicorn closes them (5 s), so a
        # request never goes out on a connection the server is closing at that moment.
        return httpx.Client(base_url=self.url, limits=httpx.Limits(keepalive_expiry=1.0))

    def console_lines(self, since: int = 0) -> list[str]:
        """The text of every line printed so far, from index `since` on."""
        return [line.text for line in self.lines[since:]]

    def mark(self) -> int:
        """An index to pass as `since`, so a test reads only what came after this point."""
        return len(self.lines)

    def wait_for_line(
        self, predicate: str | Callable[[str], bool], since: int = 0, timeout: float = 30.0
    ) -> ConsoleLine:
        """The first line from `since` on that equals `predicate` (or satisfies it)."""
        matches = predicate.__eq__ if isinstance(predicate, str) else predicate

        unread = since  # each poll reads only the lines printed since the last one

        def found() -> ConsoleLine | None:
            nonlocal unread
            while unread < len(self.lines):
                line = self.lines[unread]
                unread += 1
                if matches(line.text):
                    return line
            return None

        return wait_until(found, timeout, f"console line {predicate!r}")

    def is_alive(self) -> bool:
        return self.process.poll() is None

    def group_is_alive(self) -> bool:
        """True while any process of the group we started (reloader, workers) still runs.

        Zombies don't count: an orphan that was killed stays a zombie until init reaps it,
        which here takes about two seconds, yet it runs nothing and holds no port.
        """
        return bool(_live_group_members(self.process.pid))

    def stop(self, sig: int | None = None, timeout: float = STOP_SECONDS) -> int:
        """Stop the whole process group we started: `sig` first, SIGKILL after `timeout`."""
        sig = self.stop_signal if sig is None else sig
        if self.is_alive():
            _signal_group(self.process, sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.process, signal.SIGKILL)
                self.process.wait(STOP_SECONDS)
        # Children (reload or --workers) die with the group; make sure none is left behind.
        _signal_group(self.process, signal.SIGKILL)
        wait_until(
            lambda: not self.group_is_alive(), STOP_SECONDS, f"process group {self.pid} to end"
        )
        if self._reader is not None:
            self._reader.join(STOP_SECONDS)
        if "http" in self.__dict__:  # a client was made (cached_property keeps it there)
            self.http.close()
        return self.process.returncode

    def _read_console(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            text = raw.rstrip("\n")
            self.lines.append(ConsoleLine(time.monotonic(), text))
            if self.port is None and (match := RUNNING_ON.search(text)):
                self.port = int(match.group(1))


@atexit.register
def _stop_leftovers() -> None:
    """A last net: if a test run ends abruptly, still stop every group it started."""
    for server in STARTED:
        if server.is_alive():
            server.stop(signal.SIGKILL)


def _live_group_members(group: int) -> list[int]:
    try:
        os.killpg(group, 0)  # cheap: does any process, zombies too, remain in the group?
    except ProcessLookupError:
        return []
    except PermissionError:
        pass  # some remain, under another user: look at each below
    members = []
    for process in psutil.process_iter(["status"]):
        with suppress(ProcessLookupError, psutil.Error):
            if os.getpgid(process.pid) == group and process.info["status"] != psutil.STATUS_ZOMBIE:
                members.append(process.pid)
    return members


def _signal_group(process: subprocess.Popen[str], sig: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


# Imported by every Python process started here: lines reach the console whole (see the module).
LINE_BUFFERED = Path(__file__).resolve().parent / "line_buffered"


def _console_env(env: dict[str, str] | None) -> dict[str, str]:
    """The environment of a started process: each console line at once, and in one piece."""
    merged = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    path = [str(LINE_BUFFERED), *filter(None, [merged.get("PYTHONPATH")])]
    return {**merged, "PYTHONPATH": os.pathsep.join(path)}


def uvicorn_command(app: str, *args: str) -> list[str]:
    """The command a reader would type, on a free port chosen by the OS."""
    return [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", "0", *args]


def start_server(
    app: str | None = None,
    *,
    args: Sequence[str] = (),
    command: Sequence[str] | None = None,
    env: dict[str, str] | None = None,
    ready_line: str = "Application startup complete",
    ready_count: int = 1,
    timeout: float = STARTUP_SECONDS,
    serves_http: bool = True,
    stop_signal: int = signal.SIGTERM,
) -> RunningServer:
    """Start `app` under uvicorn (or a `command` printing uvicorn's banner); wait until it serves.

    Ready means `ready_line` was printed `ready_count` times (once per uvicorn worker). Uvicorn
    prints "Application startup complete" after the socket is bound, so no request is refused.
    A process that serves no HTTP (a Celery worker) passes `serves_http=False`: it has no port.
    """
    if command is None:
        if app is None:
            raise ValueError("start_server needs an app ('pkg.app:app') or a command")
        command = uvicorn_command(app, *args)
    process = subprocess.Popen(
        list(command),
        cwd=REPO_ROOT,
        env=_console_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        bufsize=1,
        # Its own process group, so stop() reaches reloaders and workers it spawns.
        start_new_session=True,
    )
    server = RunningServer(process, stop_signal=stop_signal)
    STARTED.append(server)
    server._reader = threading.Thread(target=server._read_console, daemon=True)
    server._reader.start()

    def is_ready() -> bool:
        started = sum(ready_line in line.text for line in server.lines)
        return (server.port is not None or not serves_http) and started >= ready_count

    try:
        wait_until(
            lambda: is_ready() or not server.is_alive(),
            timeout,
            f"{' '.join(command)} to start",
        )
        if not server.is_alive():
            raise RuntimeError(
                "server exited during startup:\n" + "\n".join(server.console_lines())
            )
    except BaseException:
        server.stop()
        raise
    return server


StartServer = Callable[..., RunningServer]


def server_starter() -> Iterator[StartServer]:
    """A `start` function that keeps what it started; every server stops when this generator ends.

    The `serve` fixtures yield from it, so servers live as long as the fixture's scope.
    """
    started: list[RunningServer] = []

    def start(app: str | None = None, **options: object) -> RunningServer:
        server = start_server(app, **options)  # type: ignore[arg-type]
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@contextmanager
def running_server(app: str | None = None, **options: object) -> Iterator[RunningServer]:
    """start_server as a context manager: the server is stopped however the block ends."""
    server = start_server(app, **options)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()
