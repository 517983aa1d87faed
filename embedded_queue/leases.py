"""Leases: what the folder queue needs because it cannot give a dead worker's job back.

A broker gives a job whose worker died to the next worker: RabbitMQ when the worker's
connection closes, Redis after its visibility timeout. The folder transport deletes a job's file
when a worker takes it, so after a whole worker dies nothing is left to give back, and the job
would say "running" for ever. Instead, a running job holds a lease, a file its pool process
touches every heartbeat; every worker of the queue looks for leases nobody renewed for
MISSED_HEARTBEATS beats and reports their jobs failed, with an `Interrupted` error.
"""

import json
import os
import socket
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from celery import Celery, Task, signals

# How many renewals a job may miss before any worker reports it failed: one late beat on a
# busy machine is no death.
MISSED_HEARTBEATS = 3


class Interrupted(Exception):
    """The worker running the job stopped (killed, machine gone) before the job ended."""


# --8<-- [start:leases]
@dataclass
class Leases:
    """The leases of one Celery app's jobs, in `folder` (the queue's `leases/`)."""

    app: Celery
    folder: Path
    heartbeat_seconds: float
    # The states a job is in while it runs: only such a job is reported, so a job that ended
    # just before its worker died keeps its result.
    running_states: Collection[str]
    # Called with the task id of each job reported failed (the stage prints its console line).
    on_interrupted: Callable[[str], None]
    _renewals: dict[str, threading.Event] = field(default_factory=dict)

    def path(self, task_id: str) -> Path:
        return self.folder / f"{task_id}.json"

    def take(self, task_id: str, task: Task, **_: object) -> None:
        """Before a job runs, in the pool process that runs it: write the lease, renew it."""
        if task.app is not self.app:
            return
        path = self.path(task_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        holder = {"hostname": task.request.hostname or socket.gethostname(), "pid": os.getpid()}
        path.write_text(json.dumps(holder))
        finished = self._renewals[task_id] = threading.Event()

        def renew() -> None:
            while not finished.wait(self.heartbeat_seconds):
                os.utime(path)

        threading.Thread(target=renew, daemon=True, name=f"lease-{task_id}").start()

    def give_back(self, task_id: str, **_: object) -> None:
        """After the job, however it ended: stop renewing, delete the lease."""
        if finished := self._renewals.pop(task_id, None):
            finished.set()
            self.path(task_id).unlink(missing_ok=True)

    def fail_abandoned_jobs(self) -> None:
        """Report every job whose lease nobody renewed in time as failed (interrupted)."""
        overdue = time.time() - MISSED_HEARTBEATS * self.heartbeat_seconds
        for path in self.folder.glob("*.json"):
            try:
                renewed, holder = path.stat().st_mtime, json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # just given back, or being written
            if renewed >= overdue:
                continue
            task_id = path.stem
            if self.app.backend.get_state(task_id) in self.running_states:
                error = Interrupted(
                    f"interrupted: worker {holder['hostname']} (pid {holder['pid']}) stopped "
                    f"renewing the job's lease for {MISSED_HEARTBEATS * self.heartbeat_seconds:g} s"
                )
                self.app.backend.mark_as_failure(task_id, error)
                self.on_interrupted(task_id)
            path.unlink(missing_ok=True)

    def look_for_abandoned_jobs(self, sender: Any, **_: object) -> None:
        """When a worker is ready: look now, then at every heartbeat."""
        if sender.app is not self.app:
            return
        self.fail_abandoned_jobs()
        # On the worker's event loop (the main process), not a thread: pool processes are
        # forked from it, and a fork copies no other thread, only the locks it might hold.
        sender.timer.call_repeatedly(self.heartbeat_seconds, self.fail_abandoned_jobs)


# --8<-- [end:leases]


def watch_leases(
    app: Celery,
    leases_folder: Path,
    heartbeat_seconds: float,
    running_states: Collection[str],
    on_interrupted: Callable[[str], None],
) -> Leases:
    """Give each job `app`'s workers run a lease, and have every worker report jobs whose
    lease ran out. Call it where the app is defined, so that every worker process has it."""
    leases = Leases(app, leases_folder, heartbeat_seconds, running_states, on_interrupted)
    # Strong references: Celery's signals hold weak ones by default, and nothing else keeps
    # these bound methods alive.
    signals.task_prerun.connect(leases.take, weak=False)
    signals.task_postrun.connect(leases.give_back, weak=False)
    signals.worker_ready.connect(leases.look_for_abandoned_jobs, weak=False)
    return leases
