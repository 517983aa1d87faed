"""Real databases for the stage-4 tests: a SQLite file, or a fresh PostgreSQL schema per use.

PostgreSQL is found or started by tests/services.py (a test that needs it is skipped without it).
Each use gets its own schema, dropped afterwards, so parallel runs never see each other's rows.
"""

from __future__ import annotations

import atexit
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Row

from step4_database.store import tasks
from tests.services import service_url

# Databases made for module-level deployments (the contract module) that have no fixture to
# clean up after them: removed when the test process exits, after every server has stopped.
_scratch = ExitStack()
atexit.register(_scratch.close)


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'tasks.db'}"


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A DATABASE_URL whose tables live in a new schema of the `test` database."""
    postgres_url = service_url("PostgreSQL")
    schema = f"step4_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url)
    try:
        with admin.begin() as db:
            db.execute(text(f'CREATE SCHEMA "{schema}"'))
        # psycopg passes `options` to the server: every connection's tables default to `schema`.
        yield f"{postgres_url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as db:
            db.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def scratch_sqlite_url() -> str:
    directory = _scratch.enter_context(tempfile.TemporaryDirectory(prefix="step4-"))
    return sqlite_url(Path(directory))


def scratch_postgres_url() -> str:
    return _scratch.enter_context(postgres_schema())


def execute(database_url: str, statement: str, **params: object) -> int:
    """Run one SQL statement on the database the servers use, as another client would; the
    number of rows it changed."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as db:
            return db.execute(text(statement), params).rowcount
    finally:
        engine.dispose()


def task_rows(database_url: str) -> list[Row]:
    """Every row of the task table, read straight from the database the server writes (through
    the stage's table definition, so times come back as datetimes on SQLite too)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as db:
            return list(db.execute(select(tasks)))
    finally:
        engine.dispose()
