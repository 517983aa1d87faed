"""What the harness knows about a stage, which everything that runs one (tests, bench) shares.

A stage is named by its folder, `stepN_name` ("step5_queue"): the folders are steps, the docs
and the code call each one a stage, and N is its number.
"""

from __future__ import annotations

import importlib
import re
from types import ModuleType

from uvicorn_harness.server import REPO_ROOT

STAGE_FOLDER = re.compile(r"^step(?P<number>\d+)_(?P<topic>[a-z0-9_]+)$")
# Every stage, in the order the docs teach them: the stages `make compare`, the Compare page, its
# timelines and the benchmark put side by side. A new stage joins them all by joining this tuple.
STAGES = (
    "step1_blocking",
    "step2_background",
    "step3_status",
    "step4_database",
    "step5_queue",
    "step6_progress",
)


def _folder_parts(stage: str) -> re.Match[str]:
    match = STAGE_FOLDER.match(stage)
    if match is None:
        raise ValueError(f"not a stage folder: {stage!r}")
    return match


def stage_number(stage: str) -> int:
    """5 for "step5_queue"."""
    return int(_folder_parts(stage).group("number"))


def stage_topic(stage: str) -> str:
    """What the stage adds, as its folder names it: "queue" for "step5_queue"."""
    return _folder_parts(stage).group("topic").replace("_", " ")


def runs_jobs_in_workers(stage: str) -> bool:
    """True from stage 5 on: the stage has a tasks.py, and Celery workers run its job."""
    return (REPO_ROOT / stage / "tasks.py").is_file()


def console_module(stage: str) -> ModuleType:
    """The module that defines the stage's console strings (ENTERING, STARTING, ENDING...):
    tasks.py where a worker runs the job and prints its lines, else app.py."""
    module = "tasks" if runs_jobs_in_workers(stage) else "app"
    return importlib.import_module(f"{stage}.{module}")
