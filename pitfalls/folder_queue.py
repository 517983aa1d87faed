"""A Celery app on the embedded folder queue, for the pitfalls that need a real worker (14, 15).

No server to install: messages are files in QUEUE_FOLDER (default `.queue/pitfalls`), as stage
5 runs with no settings (embedded_queue/). No result backend: what a job did is read from the
worker's console (Celery logs each job's outcome and run time), as the other pitfalls read
uvicorn's.
"""

from __future__ import annotations

import os
from pathlib import Path

from celery import Celery, signals

from embedded_queue import EmbeddedQueue


def folder_app(name: str, queue_folder: Path | None = None) -> Celery:
    """A Celery app whose jobs wait as files in `queue_folder` (QUEUE_FOLDER unless given).

    Importing it creates nothing: the worker creates the folder when it starts."""
    folder = queue_folder or Path(os.environ.get("QUEUE_FOLDER", ".queue/pitfalls"))
    queue = EmbeddedQueue(folder.resolve())
    app = Celery(name)
    app.conf.update(
        broker_url=queue.broker_url,
        broker_transport_options=queue.transport_options(),
        broker_connection_retry_on_startup=True,
        # Up to 16 jobs per pool process taken at each look into the folder (every 0.1 s):
        # short jobs then follow each other at once, not one per look.
        worker_prefetch_multiplier=16,
        # The jobs' lines go to the console as they are.
        worker_redirect_stdouts=False,
    )

    @signals.worker_init.connect(weak=False)
    def create_folder(**_: object) -> None:
        queue.messages.mkdir(parents=True, exist_ok=True)

    return app
