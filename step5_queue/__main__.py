"""`python -m step5_queue`: the API and one Celery worker together, stopped together by Ctrl+C.

Without reload, unlike stages 1-4: a Celery worker does not reload code, so an API that reloaded
on every edit would enqueue jobs for a worker still running the old tasks.py. Restart this
command after an edit. In production the two run as separate commands (see the docs page).
"""

import os
import subprocess
import sys

import uvicorn

from step5_queue.tasks import EMBEDDED_RESULTS


def worker_command() -> list[str]:
    command = [sys.executable, "-m", "celery", "-A", "step5_queue.tasks", "worker"]
    command.append("--loglevel=INFO")
    if EMBEDDED_RESULTS:
        # SQLite results do not expire by themselves: beat runs Celery's daily cleanup task.
        command.append("--beat")
    return command


if __name__ == "__main__":
    worker = subprocess.Popen(worker_command())
    try:
        uvicorn.run(
            "step5_queue.app:app", host="127.0.0.1", port=int(os.environ.get("PORT", "8000"))
        )
    finally:
        # Ctrl+C in a terminal reaches the worker too; this covers every other way out. The
        # worker finishes the jobs it is running first (a warm shutdown).
        worker.terminate()
        worker.wait()
