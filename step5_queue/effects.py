"""The job's effect, once per job, however many times the queue runs the job.

A queue that loses no job delivers each one at least once: a worker that dies after the job's
effect and before its acknowledgement leaves the job to be run again. So each run records its
effect under the job's task id, with an insert that does nothing when that id is there already,
in the store the deployment already has: Celery's result store, a SQL database (SQLite on the
embedded queue, or PostgreSQL) or Redis. The database's unique key, or Redis' SET NX, decides
atomically which run's effect counts, even when two runs end at the same moment; a run that
finds the effect recorded does nothing more.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

import redis
import sqlalchemy


class Effects(Protocol):
    """Where each job's effect is recorded, once."""

    def record_once(self, task_id: str, effect: dict[str, Any]) -> bool:
        """Record `effect` for the job, unless a run of it already did: True if this run did."""
        ...

    def recorded(self, task_id: str) -> dict[str, Any] | None:
        """The effect a run of the job recorded, or None if none has yet."""
        ...


# --8<-- [start:once]
@dataclass
class EffectsInRedis:
    url: str
    key_prefix: str
    expires_seconds: int  # as long as the job's result is kept

    @cached_property
    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def key(self, task_id: str) -> str:
        return f"{self.key_prefix}job-effect-{task_id}"

    def record_once(self, task_id: str, effect: dict[str, Any]) -> bool:
        # SET ... NX: written only if the key is absent, in one command, so of two runs exactly
        # one gets True.
        written = self.client.set(
            self.key(task_id), json.dumps(effect), nx=True, ex=self.expires_seconds
        )
        return bool(written)

    def recorded(self, task_id: str) -> dict[str, Any] | None:
        found = self.client.get(self.key(task_id))
        return json.loads(found) if found is not None else None


@dataclass
class EffectsInSql:
    url: str  # an SQLAlchemy URL: sqlite:///..., postgresql+psycopg://...
    expires_seconds: int

    @cached_property
    def engine(self) -> sqlalchemy.Engine:
        engine = sqlalchemy.create_engine(self.url)
        with engine.begin() as connection:
            # The task id is the primary key: a second row for one job cannot exist.
            connection.execute(
                sqlalchemy.text(
                    "CREATE TABLE IF NOT EXISTS job_effects ("
                    " task_id VARCHAR(64) PRIMARY KEY, effect TEXT NOT NULL,"
                    " recorded_at DOUBLE PRECISION NOT NULL)"
                )
            )
        return engine

    def record_once(self, task_id: str, effect: dict[str, Any]) -> bool:
        now = time.time()
        with self.engine.begin() as connection:
            # ON CONFLICT DO NOTHING (SQLite 3.24+, PostgreSQL 9.5+): no error, no second row;
            # rowcount says whether this run's row went in.
            inserted = connection.execute(
                sqlalchemy.text(
                    "INSERT INTO job_effects (task_id, effect, recorded_at)"
                    " VALUES (:task_id, :effect, :now) ON CONFLICT (task_id) DO NOTHING"
                ),
                {"task_id": task_id, "effect": json.dumps(effect), "now": now},
            )
            # Forgotten with the results, so the table does not grow for ever.
            connection.execute(
                sqlalchemy.text("DELETE FROM job_effects WHERE recorded_at < :cutoff"),
                {"cutoff": now - self.expires_seconds},
            )
        return inserted.rowcount == 1

    def recorded(self, task_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            found = connection.execute(
                sqlalchemy.text("SELECT effect FROM job_effects WHERE task_id = :task_id"),
                {"task_id": task_id},
            ).scalar_one_or_none()
        return json.loads(found) if found is not None else None


# --8<-- [end:once]


def effects_in(result_backend: str, key_prefix: str, expires_seconds: int) -> Effects:
    """The effects store beside Celery's results at `result_backend` (redis://, db+...)."""
    if result_backend.startswith(("redis://", "rediss://")):
        return EffectsInRedis(result_backend, key_prefix, expires_seconds)
    if result_backend.startswith("db+"):
        return EffectsInSql(result_backend.removeprefix("db+"), expires_seconds)
    raise ValueError(f"no effects store for the result backend {result_backend!r}")
