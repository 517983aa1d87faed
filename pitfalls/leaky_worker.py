"""Pitfall 15: a job that leaks, and the worker that grows with it, job after job.

celery -A pitfalls.leaky_worker worker --concurrency 1 [--max-tasks-per-child N]
                                                        [--max-memory-per-child KIB]

Each job keeps LEAK_KIB (default 256) KiB in a module-level cache that nothing empties. Then it
prints one line with its pool process's memory and its parent's; the parent prints one line for
each pool process it forks, and each pool process one when it is ready and one as it exits.
`python -m pitfalls.measure_worker_memory` reads them.
"""

from __future__ import annotations

import os
import resource
import sys
import time

import psutil
from celery import signals

from pitfalls.folder_queue import folder_app

LEAK_KIB = int(os.environ.get("LEAK_KIB", "256"))
JOB_DONE = "Report rendered"
FORKED = "Forked a pool process"
READY = "Pool process ready"
EXITING = "Pool process exiting"

celery_app = folder_app("pitfalls.leaky_worker")


# --8<-- [start:leak]
_rendered: dict[int, str] = {}  # a cache: nothing ever removes an entry


@celery_app.task
def render_report(number: int) -> None:
    started = time.monotonic()
    _rendered[number] = "x" * (LEAK_KIB * 1024)  # the report, kept for ever
    report_memory(number, started)


# --8<-- [end:leak]
def say(line: str) -> None:
    sys.stdout.write(f"{line}\n")  # one write per line: the processes share one console


def report_memory(number: int, started: float) -> None:
    """This job's pool process, when it ran, that process's RSS and its parent's, and the
    peak RSS that `--max-memory-per-child` is compared with (billiard/compat.py, mem_rss)."""
    me = psutil.Process()
    say(
        f"{JOB_DONE}: number={number} pid={me.pid} started={started:.6f}"
        f" ended={time.monotonic():.6f} rss={me.memory_info().rss}"
        f" parent_rss={psutil.Process(os.getppid()).memory_info().rss}"
        f" peak_rss_kib={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}"
    )


# What a replacement costs. In the parent, Celery sends worker_before_create_process, collects
# garbage, then forks (celery/concurrency/asynpool.py, _create_worker_process); in the new
# process, Celery initialises (worker_process_init ends that).
_moments: dict[str, float] = {}


@signals.worker_before_create_process.connect
def note_replacement_began(**_: object) -> None:
    _moments["began"] = time.monotonic()


def note_fork() -> None:
    _moments["fork"] = time.monotonic()


def say_forked() -> None:
    if "began" in _moments:  # a pool process, not some other fork
        say(
            f"{FORKED}: began={_moments['began']:.6f} fork={_moments['fork']:.6f}"
            f" forked={time.monotonic():.6f} parent_rss={psutil.Process().memory_info().rss}"
        )
    _moments.clear()


def note_forked_in_child() -> None:
    _moments.clear()
    _moments["forked"] = time.monotonic()


os.register_at_fork(
    before=note_fork, after_in_parent=say_forked, after_in_child=note_forked_in_child
)


@signals.worker_process_init.connect
def say_ready(**_: object) -> None:
    ready = time.monotonic()
    me = psutil.Process()
    # USS: the memory only this process holds; the rest of its RSS it shares with the parent.
    say(
        f"{READY}: pid={me.pid} forked={_moments.get('forked', ready):.6f} ready={ready:.6f}"
        f" rss={me.memory_info().rss} uss={me.memory_full_info().uss}"
    )


@signals.worker_process_shutdown.connect
def say_exiting(**_: object) -> None:
    say(f"{EXITING}: pid={os.getpid()} at={time.monotonic():.6f}")
