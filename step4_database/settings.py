"""Stage 4's settings: environment variables, read and checked once when a worker starts.

TASK_SECONDS and TASK_FAIL are not here: as in the earlier stages, the job reads them when it
runs (see app.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_DATABASE_URL = "sqlite:///tasks.db"  # a file in the working directory


@dataclass(frozen=True)
class Settings:
    database_url: str
    heartbeat_seconds: float  # how often a worker renews its leases and checks everyone's
    retention_seconds: float  # finished tasks older than this are deleted
    job_threads: int  # jobs that run at once in one worker; more wait for a free thread

    @property
    def lease_seconds(self) -> float:
        return lease_for(self.heartbeat_seconds)

    @classmethod
    def from_environment(cls) -> Settings:
        return cls(
            database_url=os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL),
            heartbeat_seconds=positive_number("HEARTBEAT_SECONDS", "5"),
            retention_seconds=positive_number("TASK_RETENTION_SECONDS", "86400"),
            job_threads=int(positive_number("JOB_THREADS", "100", whole=True)),
        )


def lease_for(heartbeat_seconds: float) -> float:
    # Three missed heartbeats before a task counts as interrupted: a busy moment is not death.
    return 3 * heartbeat_seconds


def positive_number(name: str, default: str, whole: bool = False) -> float:
    raw = os.environ.get(name, default)
    kind = "a whole number" if whole else "a number"
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        raise ValueError(f"{name} must be {kind} greater than 0, got {raw!r}") from None
    if not value > 0:  # also rejects nan
        raise ValueError(f"{name} must be {kind} greater than 0, got {raw!r}")
    return value
