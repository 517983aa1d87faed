"""`python -m step6_progress`: the API and one Celery worker together, stopped together.

Without reload, unlike stages 1-4: a Celery worker does not reload code, so an API that reloaded
on every edit would enqueue jobs for a worker still running the old tasks.py. Restart this
command after an edit. In production the two run as separate commands (see the docs page).
"""

import os
import signal
import subprocess
import sys
from types import FrameType

import uvicorn

from step6_progress.tasks import EMBEDDED_RESULTS


def worker_command() -> list[str]:
    command = [sys.executable, "-m", "celery", "-A", "step6_progress.tasks", "worker"]
    command.append("--loglevel=INFO")
    if EMBEDDED_RESULTS:
        # SQLite results do not expire by themselves: beat runs Celery's daily cleanup task.
        command.append("--beat")
    return command


# --8<-- [start:signals]
def exit_on_signal(signum: int, frame: FrameType | None) -> None:
    """SIGTERM (`kill PID`, systemd, `docker stop`): leave through the `finally` below.

    uvicorn handles SIGTERM itself while it serves, shuts down, puts this handler back and
    raises the signal again (uvicorn/server.py, capture_signals); Python's default action would
    end the process there and then, before `finally`, leaving the worker running.
    """
    raise SystemExit(128 + signum)


def shut_down_on_hangup(signum: int, frame: FrameType | None) -> None:
    """SIGHUP (the terminal closed): uvicorn does not handle it; shut down as for SIGTERM."""
    signal.raise_signal(signal.SIGTERM)


# --8<-- [end:signals]
if __name__ == "__main__":
    signal.signal(signal.SIGTERM, exit_on_signal)
    signal.signal(signal.SIGHUP, shut_down_on_hangup)
    worker = subprocess.Popen(worker_command())
    try:
        uvicorn.run(
            "step6_progress.app:app", host="127.0.0.1", port=int(os.environ.get("PORT", "8000"))
        )
    finally:
        # Ctrl+C in a terminal reaches the worker too; every other way out passes here. The
        # worker finishes the jobs it is running first (a warm shutdown).
        worker.terminate()
        worker.wait()
