"""The servers some tests need (PostgreSQL, Redis, RabbitMQ): found, started, or named as missing.

For each service, once per run, in the process that starts pytest (before any xdist worker):
1. its URL (`TEST_POSTGRES_URL`, `TEST_REDIS_URL`, `TEST_RABBITMQ_URL`, or the default below)
   answers: the tests use it;
2. it does not answer, but its server is installed: a throwaway one is started on a free port
   for this run (with the executors of pytest-postgresql, pytest-redis and pytest-rabbitmq) and
   stopped at the end; its URL is exported, so xdist workers and the servers they start use it;
3. neither: every test that asks for it is skipped with a reason, and the run ends with one line
   per service saying which tests did not run and the one command that provides it.
With `CI=true` nothing may be left out: a missing service fails the run at startup.

`TEST_START_SERVICES=0` turns step 2 off (a machine with the binaries behaves like one without;
the suite's own laptop test uses it).
"""

from __future__ import annotations

import functools
import os
import pwd
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SKIP_PREFIX = "needs "  # every skip reason of a missing service starts "needs <name>"


class NotStarted(Exception):
    """No throwaway server could be started: why, in the reader's words, and what fixes it."""

    def __init__(self, cause: str, fix: str) -> None:
        super().__init__(cause)
        self.cause, self.fix = cause, fix


@dataclass(frozen=True)
class Service:
    name: str
    url_variable: str
    default_url: str
    provide: str  # the one command that installs this service on Debian/Ubuntu
    answers: Callable[[str], bool]
    start_throwaway: Callable[[ExitStack], str]  # a URL; raises NotStarted

    @property
    def url(self) -> str:
        return os.environ.get(self.url_variable, self.default_url)

    @property
    def _left_out_variable(self) -> str:
        return f"{self.url_variable}_LEFT_OUT"

    def left_out_because(self, cause: str, fix: str) -> None:
        """Say, for this run and every xdist worker it starts, why the service is missing."""
        os.environ[self._left_out_variable] = f"{cause}\t{fix}"

    def why_missing(self) -> tuple[str, str]:
        """The cause and the fix: as provide_services found them, or the plain case."""
        said = os.environ.get(self._left_out_variable)
        if said and "\t" in said:
            cause, fix = said.split("\t", 1)
            return cause, fix
        return (
            f"nothing answers at {self.url}",
            f"{self.provide}, or point {self.url_variable} at one",
        )

    def skip_reason(self) -> str:
        cause, fix = self.why_missing()
        return f"{SKIP_PREFIX}{self.name}: {cause} (provide it: {fix})"


def _host_port(url: str, default_port: int) -> tuple[str, int]:
    netloc = url.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    host, _, port = netloc.partition(":")
    return host or "127.0.0.1", int(port or default_port)


def _exchange(url: str, default_port: int, greeting: bytes) -> bytes:
    """Send `greeting` to the service's port and return the first bytes it answers."""
    try:
        with closing(socket.create_connection(_host_port(url, default_port), timeout=2)) as sock:
            sock.sendall(greeting)
            return sock.recv(16)
    except OSError:
        return b""


def _redis_answers(url: str) -> bool:
    return _exchange(url, 6379, b"PING\r\n").startswith(b"+PONG")


def _rabbitmq_answers(url: str) -> bool:
    # An AMQP 0-9-1 server answers the protocol header with a Connection.Start method frame
    # (frame type 1); anything else on that port is not a broker we can use.
    return _exchange(url, 5672, b"AMQP\x00\x00\x09\x01").startswith(b"\x01")


def _postgres_answers(url: str) -> bool:
    # A real login, not just an open port: a laptop's PostgreSQL may listen but refuse us.
    import psycopg

    conninfo = url.replace("postgresql+psycopg://", "postgresql://").split("?", 1)[0]
    try:
        with psycopg.connect(conninfo, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _scratch_folder(stack: ExitStack, name: str) -> Path:
    return Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"throwaway-{name}-")))


def _redis_executor(stack: ExitStack, *, appendonly: bool = False) -> tuple[Any, str] | None:
    """A redis-server on a free port (not started yet) and its URL, or None if not installed."""
    executable = shutil.which("redis-server")
    if executable is None:
        return None
    from pytest_redis.executor import RedisExecutor

    port = _free_port()
    redis = RedisExecutor(
        executable,
        databases=16,
        redis_timeout=30,
        loglevel="warning",
        host="127.0.0.1",
        port=port,
        datadir=_scratch_folder(stack, "redis"),
        appendonly="yes" if appendonly else "no",
    )
    return redis, f"redis://127.0.0.1:{port}/0"


def _not_installed(program: str, install: str) -> NotStarted:
    return NotStarted(f"nothing answers, and {program} is not installed", install)


def _start_redis(stack: ExitStack) -> str:
    found = _redis_executor(stack)
    if found is None:
        raise _not_installed("redis-server", SERVICES["Redis"].provide)
    redis, url = found
    stack.enter_context(redis)  # mirakuru executors start on enter and stop on exit
    return url


def _rabbitmq_executor(stack: ExitStack) -> tuple[Any, str, Path] | None:
    """A RabbitMQ node on free ports (not started yet), its URL and its config file."""
    server, control = shutil.which("rabbitmq-server"), shutil.which("rabbitmqctl")
    if server is None or control is None:
        return None
    from pytest_rabbitmq.factories.executor import RabbitMqExecutor

    folder = _scratch_folder(stack, "rabbitmq")
    (folder / "plugins").write_text("[].\n")  # no management plugin: a faster start
    (folder / "mnesia").mkdir()  # RabbitMQ keeps its feature flags there and won't make it
    if os.geteuid() == 0:
        # Run as root, Debian's rabbitmq-server wrapper switches to the `rabbitmq` user.
        with suppress(KeyError):
            owner = pwd.getpwnam("rabbitmq")
            for path in (folder, *folder.rglob("*")):
                os.chown(path, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    # A config of its own: the machine's rabbitmq.conf may pin the listener to 5672.
    config = folder / "rabbitmq.conf"
    config.write_text(f"listeners.tcp.local = 127.0.0.1:{port}\n")
    rabbitmq = RabbitMqExecutor(
        server,
        host="127.0.0.1",
        port=port,
        distribution_port=_free_port(),
        rabbit_ctl=control,
        logpath=folder,
        path=folder,
        plugin_path=folder,
        node_name=f"throwaway-{port}@localhost",
    )
    return rabbitmq, f"amqp://guest:guest@127.0.0.1:{port}//", config


class RabbitMqNode:
    """A throwaway RabbitMQ node: started and stopped by its executor, and only counted as
    stopped once every process it started has exited."""

    def __init__(self, executor: Any, config: Path) -> None:
        self.executor, self.config = executor, config
        self._processes: list[Any] = []  # psutil.Process: the wrapper and everything below it

    def start(self) -> None:
        import psutil

        # mirakuru copies os.environ when the process starts: set it around the start only.
        os.environ["RABBITMQ_CONFIG_FILE"] = str(self.config)
        try:
            self.executor.start()
        finally:
            del os.environ["RABBITMQ_CONFIG_FILE"]
        # Ready means it answers, so by now the Erlang VM runs under the wrapper. Its command
        # line does not name the node (RabbitMQ passes that in the environment): find it here.
        wrapper = psutil.Process(self.executor.process.pid)
        self._processes = [wrapper, *wrapper.children(recursive=True)]

    def stop(self, killed: bool = False) -> None:
        """Stop it (SIGTERM, or SIGKILL when `killed`) and wait until its processes are gone.
        Debian's rabbitmq-server wrapper exits first while the VM goes on writing the node's
        folder for a moment, so the folder cannot be removed ("Directory not empty:
        msg_store_transient") until every process started for it is gone; waiting for
        processes naming the node would not do: none does."""

        if killed:
            self.executor.kill(sig=signal.SIGKILL)
        else:
            # SIGTERM to the Erlang VM: a clean shutdown, as `rabbitmqctl stop` does (1.8 s
            # here). Sent to the whole group, `su` in Debian's wrapper also gets it, waits 2 s,
            # then kills the shell ("Session terminated, killing shell... ...killed."): 2.9 s.
            for process in self._processes:
                if _is_erlang_vm(process):
                    process.terminate()
        deadline = time.monotonic() + 30
        while running := [process for process in self._processes if _still_runs(process)]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"RabbitMQ processes {running} outlived its stop")
            time.sleep(0.05)  # polling, with a deadline, processes we started
        self.executor.stop()  # its processes are gone: only mirakuru's bookkeeping is left


def _is_erlang_vm(process: Any) -> bool:
    """The process is RabbitMQ's Erlang VM; False for one that has exited meanwhile (the
    wrapper's helpers come and go while the node starts and stops)."""
    import psutil

    try:
        return bool(process.name() == "beam.smp")
    except (psutil.NoSuchProcess, FileNotFoundError):
        return False


def _still_runs(process: Any) -> bool:
    """Not exited, nor a zombie: a killed orphan stays one until init reaps it (~1.5 s here),
    but it runs nothing and holds no file."""
    import psutil

    try:
        return bool(process.status() != psutil.STATUS_ZOMBIE)
    except (psutil.NoSuchProcess, FileNotFoundError):
        # psutil 7 re-raises a missing /proc/PID/stat as FileNotFoundError when the file is
        # there again when it looks twice (psutil/_pslinux.py, wrap_exceptions): the PID
        # already reused by a new process, on a machine starting many. Ours is gone either way.
        return False


def _start_rabbitmq(stack: ExitStack) -> str:
    found = _rabbitmq_executor(stack)
    if found is None:
        raise _not_installed("rabbitmq-server", SERVICES["RabbitMQ"].provide)
    executor, url, config = found
    node = RabbitMqNode(executor, config)
    node.start()
    stack.callback(node.stop, killed=True)  # its data goes with its folder: no clean stop
    return url


def _pg_ctl() -> str | None:
    found = shutil.which("pg_ctl")
    if found:
        return found
    # Debian keeps the server's programs out of PATH, one folder per major version.
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return str(candidates[-1]) if candidates else None


# Who runs the throwaway PostgreSQL when the suite runs as root, which initdb refuses: the
# account Debian's postgresql package creates for its own server.
POSTGRES_ACCOUNT = "postgres"


def _pg_ctl_for_this_user(stack: ExitStack, pg_ctl: str, folder: Path) -> str:
    """pg_ctl itself, or, as root, a wrapper that runs it as the `postgres` account (initdb
    and the server refuse root), with the folder handed over to that account."""
    if os.geteuid() != 0:
        return pg_ctl
    try:
        account = pwd.getpwnam(POSTGRES_ACCOUNT)
    except KeyError:
        raise NotStarted(
            "nothing answers; PostgreSQL is installed, but initdb refuses root and there is no "
            f"`{POSTGRES_ACCOUNT}` account to run it as",
            "run the tests as another user, or start the installed server "
            "(sudo pg_ctlcluster <version> main start)",
        ) from None
    os.chown(folder, account.pw_uid, account.pw_gid)
    wrapper = folder / "pg_ctl"
    wrapper.write_text(f'#!/bin/sh\nexec runuser -u {POSTGRES_ACCOUNT} -- "{pg_ctl}" "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def _start_postgres(stack: ExitStack) -> str:
    pg_ctl = _pg_ctl()
    if pg_ctl is None:
        raise _not_installed("PostgreSQL's pg_ctl", SERVICES["PostgreSQL"].provide)
    from pytest_postgresql.executors.proc import PostgreSQLExecutor

    folder = _scratch_folder(stack, "postgres")
    port = _free_port()
    postgres = PostgreSQLExecutor(
        _pg_ctl_for_this_user(stack, pg_ctl, folder),
        host="127.0.0.1",
        port=port,
        datadir=str(folder / "data"),
        unixsocketdir=str(folder),
        logfile=str(folder / "postgres.log"),
        startparams="-w",
        dbname="test",
        user="postgres",
    )
    stack.enter_context(postgres)
    import psycopg

    maintenance = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    with psycopg.connect(maintenance, autocommit=True) as db:
        db.execute("CREATE DATABASE test")
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/test"


SERVICES = {
    service.name: service
    for service in (
        Service(
            "PostgreSQL",
            "TEST_POSTGRES_URL",
            "postgresql+psycopg://postgres@127.0.0.1:5432/test",
            "sudo apt-get install postgresql",
            _postgres_answers,
            _start_postgres,
        ),
        Service(
            "Redis",
            "TEST_REDIS_URL",
            "redis://127.0.0.1:6379/0",
            "sudo apt-get install redis-server",
            _redis_answers,
            _start_redis,
        ),
        Service(
            "RabbitMQ",
            "TEST_RABBITMQ_URL",
            "amqp://guest:guest@127.0.0.1:5672//",
            "sudo apt-get install rabbitmq-server",
            _rabbitmq_answers,
            _start_rabbitmq,
        ),
    )
}


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def provide_services(stack: ExitStack) -> list[str]:
    """Make every service answer if this machine can; the names of those that still don't,
    each with the reason it gives its skipped tests (Service.why_missing)."""
    missing = []
    may_start = os.environ.get("TEST_START_SERVICES", "1") != "0"
    for service in SERVICES.values():
        if service.answers(service.url):
            continue
        missing.append(service.name)
        # A URL the reader named is theirs: never replace it with a throwaway server.
        if service.url_variable in os.environ:
            service.left_out_because(
                f"nothing answers at {service.url}, which {service.url_variable} names",
                f"start it, or point {service.url_variable} at one that answers",
            )
            continue
        if not may_start:
            service.left_out_because(
                f"nothing answers at {service.url}, and TEST_START_SERVICES=0 starts none",
                f"{service.provide}, then run without TEST_START_SERVICES=0",
            )
            continue
        try:
            url = service.start_throwaway(stack)
        except NotStarted as why:
            service.left_out_because(why.cause, why.fix)
            continue
        except Exception as error:  # the server is there but would not start: say how
            first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
            service.left_out_because(
                f"nothing answers; {service.name} is installed, but a throwaway server for "
                f"this run did not start ({type(error).__name__}: {first_line[:200]})",
                f"start the installed server, or point {service.url_variable} at one",
            )
            continue
        if service.answers(url):
            os.environ[service.url_variable] = url
            missing.pop()
        else:
            service.left_out_because(
                f"nothing answers; a throwaway {service.name} started at {url} but does not",
                f"start the installed server, or point {service.url_variable} at one",
            )
    return missing


@functools.cache
def _answers(name: str) -> bool:
    service = SERVICES[name]
    return service.answers(service.url)


def service_url(name: str) -> str:
    """The URL of a service this test needs; skips the test (fails it under CI) if none answers."""
    service = SERVICES[name]
    if not _answers(name):
        if under_ci():
            pytest.fail(f"CI=true: {service.skip_reason()}")
        pytest.skip(service.skip_reason())
    return service.url


# Not a server, but left out the same way: the tests that build hosts of their own.
NETWORK_NAMESPACES = "network namespaces"
NAMESPACES_PROVIDE = "run the tests as root on Linux, with iproute2 (sudo apt-get install iproute2)"


def network_namespaces_reason() -> str | None:
    """Why this machine cannot make network namespaces, or None if it can."""
    if os.geteuid() != 0:
        return "they need root"
    if shutil.which("ip") is None:
        return "`ip` (iproute2) is not installed"
    return None


def require_network_namespaces() -> None:
    """Skip the test (fail it under CI) where this run cannot make network namespaces."""
    reason = network_namespaces_reason()
    if reason is not None:
        message = f"{SKIP_PREFIX}{NETWORK_NAMESPACES}: {reason} (provide: {NAMESPACES_PROVIDE})"
        if under_ci():
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)


def left_out_lines(skip_reasons: list[tuple[str, str]]) -> list[str]:
    """One line per missing service: how many tests did not run, which modules, and the fix.

    `skip_reasons` holds (test module, skip reason) for every skipped test of the run.
    """
    needs = [(service.name, *service.why_missing()) for service in SERVICES.values()]
    needs.append((NETWORK_NAMESPACES, "this run cannot make them", NAMESPACES_PROVIDE))
    lines = []
    for name, problem, provide in needs:
        prefix = f"{SKIP_PREFIX}{name}:"
        modules = sorted({module for module, reason in skip_reasons if reason.startswith(prefix)})
        count = sum(reason.startswith(prefix) for _, reason in skip_reasons)
        if count:
            lines.append(
                f"{name}: {problem}: {count} tests did not run ({', '.join(modules)}). "
                f"Provide it: {provide}"
            )
    return lines


# --- Brokers a test restarts ------------------------------------------------------------------


@dataclass(frozen=True)
class PrivateBroker:
    """A broker of one test's own, which it may restart: nobody else's jobs are on it."""

    url: str
    # Stops it (SIGTERM, or SIGKILL when `killed`) and starts it again; returns once it answers.
    restart: Callable[[bool], None]


def _stop_executor(executor: Any, killed: bool = False) -> None:
    if killed:
        executor.kill(sig=signal.SIGKILL)
    else:
        executor.stop()


def _restart(
    stop: Callable[[bool], None],
    url: str,
    answers: Callable[[str], bool],
    start: Callable[[], None],
    killed: bool = False,
) -> None:
    """Stop the server (`stop(killed)`), wait until its port is closed, start it again. (A start
    while the port is open would find it "already running".)"""
    stop(killed)
    host, port = _host_port(url, 0)
    deadline = time.monotonic() + 30
    while _port_open(host, port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} still listens 30 s after it was stopped")
        time.sleep(0.05)  # polling a port we closed ourselves, with a deadline
    start()
    # Listening is not answering yet: a Redis replaying its append-only file answers PING with
    # "-LOADING" until it is done, so one check right after the start is not enough.
    deadline = time.monotonic() + 30
    while not answers(url):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} does not answer 30 s after its restart")
        time.sleep(0.05)  # polling, with a deadline, a server we started


def _port_open(host: str, port: int) -> bool:
    with closing(socket.socket()) as sock:
        return sock.connect_ex((host, port)) == 0


@contextmanager
def private_broker(name: str, *, persistent: bool = True) -> Iterator[PrivateBroker]:
    """A Redis or a RabbitMQ for one test. A `persistent` Redis writes every change to its
    append-only file; otherwise it keeps Redis' default snapshots only (`save 3600 1 300 100
    60 10000`, and one at a clean shutdown), so a killed one forgets what came since it started.

    Skips the test (fails it under CI) where the server is not installed: a test that restarts
    a broker cannot use the machine's shared one.
    """
    service = SERVICES[name]
    with ExitStack() as stack:
        if name == "Redis":
            found = _redis_executor(stack, appendonly=persistent)
            if found is not None:
                redis, url = found
                stack.enter_context(redis)
                stop = functools.partial(_stop_executor, redis)
                restart = functools.partial(_restart, stop, url, service.answers, redis.start)
                yield PrivateBroker(url, restart)
                return
        elif name == "RabbitMQ":
            found_node = _rabbitmq_executor(stack)
            if found_node is not None:
                executor, url, config = found_node
                node = RabbitMqNode(executor, config)
                node.start()
                stack.callback(node.stop, killed=True)  # thrown away: no clean stop
                restart = functools.partial(_restart, node.stop, url, service.answers, node.start)
                yield PrivateBroker(url, restart)
                return
        reason = (
            f"{SKIP_PREFIX}{name}: this test restarts a {name} of its own, and none is installed "
            f"(provide it: {service.provide})"
        )
        if under_ci():
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
