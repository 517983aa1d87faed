"""The task store: one table and the handful of statements stage 4 needs, on any SQLAlchemy URL.

Every write is a single statement with its condition in the WHERE clause, so two processes
never read-then-write the same row: the database decides, atomically, who wins.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"
INTERRUPTED = "interrupted: its process stopped, or failed to record its outcome"

metadata = MetaData()

tasks = Table(
    "tasks",
    metadata,
    Column("id", String(36), primary_key=True),  # a uuid4, as text: same on every database
    Column("status", String(16), nullable=False, index=True),
    Column("created_at", DateTime, nullable=False),  # naive UTC on every database
    Column("started_at", DateTime),
    Column("finished_at", DateTime, index=True),  # retention deletes by this
    Column("error", Text),
    # Which process runs the task, and until when that process has promised to be alive.
    Column("owner", String(200), nullable=False),
    Column("lease_expires_at", DateTime, nullable=False),
)


@dataclass(frozen=True)
class Task:
    id: str
    status: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    owner: str
    lease_expires_at: datetime


def utc_now() -> datetime:
    # Naive UTC: SQLite has no time zones, so every database stores the same kind of value.
    return datetime.now(UTC).replace(tzinfo=None)


def this_process() -> str:
    """A name for this process that is never reused, even when the OS reuses the pid."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class TaskStore:
    def __init__(self, database_url: str, lease_seconds: float) -> None:
        self.engine = connect(database_url)
        self.lease = timedelta(seconds=lease_seconds)
        self.owner = this_process()

    def close(self) -> None:
        self.engine.dispose()

    def add(self, task_id: str) -> None:
        """A new task, "running" from the start and leased to this process."""
        now = utc_now()
        with self.engine.begin() as db:
            db.execute(
                insert(tasks).values(
                    id=task_id,
                    status=RUNNING,
                    created_at=now,
                    owner=self.owner,
                    lease_expires_at=now + self.lease,
                )
            )

    def mark_started(self, task_id: str) -> None:
        with self.engine.begin() as db:
            db.execute(
                update(tasks)
                .where(tasks.c.id == task_id, tasks.c.status == RUNNING)
                .values(started_at=utc_now())
            )

    def mark_finished(self, task_id: str, error: str | None = None) -> bool:
        """Record the outcome, unless the task was already declared interrupted (first verdict
        wins: a reader must never see "failed" turn into "completed")."""
        with self.engine.begin() as db:
            result = db.execute(
                update(tasks)
                .where(tasks.c.id == task_id, tasks.c.status == RUNNING)
                .values(
                    status=COMPLETED if error is None else FAILED,
                    finished_at=utc_now(),
                    error=error,
                )
            )
        return result.rowcount == 1

    def get(self, task_id: str) -> Task | None:
        with self.engine.connect() as db:
            row = db.execute(select(tasks).where(tasks.c.id == task_id)).first()
        return None if row is None else Task(**row._mapping)

    def renew_leases(self, task_ids: Sequence[str]) -> int:
        """The heartbeat: this process is alive and still has jobs for `task_ids`."""
        renewed = 0
        with self.engine.begin() as db:
            # In slices: databases cap the number of values one statement may carry.
            for first in range(0, len(task_ids), 1000):
                result = db.execute(
                    update(tasks)
                    .where(
                        tasks.c.id.in_(task_ids[first : first + 1000]),
                        tasks.c.owner == self.owner,
                        tasks.c.status == RUNNING,
                    )
                    .values(lease_expires_at=utc_now() + self.lease)
                )
                renewed += result.rowcount
        return renewed

    def fail_interrupted(self) -> list[str]:
        """Fail every running task whose process stopped renewing its lease (killed, crashed,
        cut off). A live process renews long before its lease ends, so its tasks are left alone."""
        now = utc_now()
        with self.engine.begin() as db:
            rows = db.execute(
                update(tasks)
                .where(tasks.c.status == RUNNING, tasks.c.lease_expires_at < now)
                .values(status=FAILED, finished_at=now, error=INTERRUPTED)
                .returning(tasks.c.id)
            )
            return list(rows.scalars())

    def delete_finished_before(self, cutoff: datetime) -> int:
        """Retention: finished rows older than `cutoff` go; running rows are never touched."""
        with self.engine.begin() as db:
            result = db.execute(
                delete(tasks).where(tasks.c.status != RUNNING, tasks.c.finished_at < cutoff)
            )
        return result.rowcount


def connect(database_url: str) -> Engine:
    """An engine for `database_url` with the table created, or a clear error saying why not."""
    try:
        url = make_url(database_url)
    except SQLAlchemyError as error:
        raise ValueError(f"DATABASE_URL is not a database URL: {database_url!r}") from error
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        # Each connection would get its own empty database: workers could not share tasks.
        raise ValueError(f"DATABASE_URL {shown!r}: use a file, e.g. sqlite:///tasks.db")
    try:
        engine = create_engine(url)
        if url.get_backend_name() == "sqlite":
            event.listen(engine, "connect", configure_sqlite)
        create_table(engine)
    except (SQLAlchemyError, ImportError) as error:
        raise RuntimeError(f"DATABASE_URL {shown!r}: cannot use this database: {error}") from error
    return engine


def configure_sqlite(connection: Any, _record: object) -> None:
    cursor = connection.cursor()
    # Wait up to 10 s for another process's write instead of failing with "database is locked".
    cursor.execute("PRAGMA busy_timeout = 10000")
    # WAL: readers never block the writer and the writer never blocks readers.
    cursor.execute("PRAGMA journal_mode = WAL")
    # With WAL, NORMAL survives a killed process; only a power cut may lose the last commits.
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def create_table(engine: Engine) -> None:
    try:
        metadata.create_all(engine)
    except SQLAlchemyError:
        # Several workers start at once; one may create the table between our check and our
        # CREATE. Checking again then finds it; a real problem fails again and is raised.
        metadata.create_all(engine)
