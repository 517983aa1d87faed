"""Pitfall 11: a database session from a `yield` dependency, used in a background task.

On the pinned FastAPI a `yield` dependency's cleanup runs on the request's exit stack, which
closes only after the response *and its background tasks* have run (fastapi/routing.py,
`request_response`: `await response(scope, receive, send)` sits inside
`async with AsyncExitStack() as request_stack`; Starlette's Response.__call__ runs the
background tasks). With `Depends(..., scope="function")` the cleanup goes on the inner
`function_stack` instead, which closes as soon as the endpoint returns
(fastapi/dependencies/utils.py, `solve_dependencies`: `if sub_dependant.scope == "function":
use_astack = function_astack`).

The pool is deliberately small (POOL_SIZE connections, no overflow) so a held connection shows.
"""

import os
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import BackgroundTasks, Depends, FastAPI
from sqlalchemy import create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import QueuePool

STARTING = "Job starts"
ENDING = "Job ends"

engine = create_engine(
    f"sqlite:///{os.environ.get('PITFALL_DB', 'pitfall11.db')}",
    poolclass=QueuePool,
    pool_size=int(os.environ.get("POOL_SIZE", "2")),
    max_overflow=0,  # no extra connections: the pool's size is the limit
    pool_timeout=float(os.environ.get("POOL_TIMEOUT", "10")),
    # The session crosses threads: the endpoint's thread, then the task's.
    connect_args={"check_same_thread": False},
)
SessionLocal = sessionmaker(engine)


class Base(DeclarativeBase):
    pass


class Job(Base):
    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    Base.metadata.create_all(engine)
    yield
    engine.dispose()


app = FastAPI(lifespan=lifespan)


def job_seconds() -> float:
    return float(os.environ.get("TASK_SECONDS", "5"))


# --8<-- [start:dependency]
def get_session() -> Iterator[Session]:
    with SessionLocal() as session:
        yield session  # closed when FastAPI runs this dependency's exit code


# --8<-- [end:dependency]


# --8<-- [start:pitfall]
def finish_job(session: Session, job: Job) -> None:
    print(f"{STARTING} {job.id}")  # reloads `job` through the request's session: a connection
    time.sleep(job_seconds())  # ... which the session keeps for the whole job
    job.status = "completed"
    session.commit()
    print(f"{ENDING} {job.id}")


@app.post("/jobs")
def create_job(session: Annotated[Session, Depends(get_session)], tasks: BackgroundTasks) -> int:
    job = Job(status="running")
    session.add(job)
    session.flush()  # gives the job its id
    job_id = job.id
    session.commit()
    tasks.add_task(finish_job, session, job)
    return job_id


@app.post("/jobs_function_scope")
def create_job_function_scope(
    session: Annotated[Session, Depends(get_session, scope="function")], tasks: BackgroundTasks
) -> int:
    job = Job(status="running")
    session.add(job)
    session.flush()
    job_id = job.id
    session.commit()
    tasks.add_task(finish_job, session, job)  # the session is closed before the task runs
    return job_id


# --8<-- [end:pitfall]


# --8<-- [start:fix]
def finish_job_with_own_session(job_id: int) -> None:
    print(f"{STARTING} {job_id}")
    time.sleep(job_seconds())  # the work itself needs no connection
    with SessionLocal() as session:  # a session of its own, for as long as it writes
        session.get_one(Job, job_id).status = "completed"
        session.commit()
    print(f"{ENDING} {job_id}")


@app.post("/jobs_own_session")
def create_job_own_session(
    # scope="function": the request's session (and its connection) goes back before the response
    session: Annotated[Session, Depends(get_session, scope="function")],
    tasks: BackgroundTasks,
) -> int:
    job = Job(status="running")
    session.add(job)
    session.commit()
    tasks.add_task(finish_job_with_own_session, job.id)  # the id, not the session or the row
    return job.id


# --8<-- [end:fix]


@app.get("/jobs/{job_id}")
def read_job(job_id: int, session: Annotated[Session, Depends(get_session)]) -> str:
    return session.get_one(Job, job_id).status
