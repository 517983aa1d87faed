"""Schemathesis fuzzes every stage's OpenAPI schema against its real server.

No input makes any stage answer 500. From stage 4 on, every status an endpoint returns is also
declared in the schema (the 404 for an unknown id shows in /docs); stages 1-3 stay exactly as the
article wrote them, so their undeclared 404 is not checked.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.databases import scratch_sqlite_url
from tests.step5_deployments import embedded_env
from uvicorn_harness.server import RunningServer, StartServer

EXAMPLES_PER_OPERATION = 10  # with the coverage phase, ~40 cases a stage
FUZZ_SECONDS = 120
SERVER_ERRORS_ONLY = "not_a_server_error"
DECLARED_STATUSES_TOO = "not_a_server_error,status_code_conformance"


def serve_stage(serve: StartServer, stage: str) -> RunningServer:
    env = {"TASK_SECONDS": "0"}  # the job's length changes nothing in the API's answers
    if stage == "step4_database":
        env["DATABASE_URL"] = scratch_sqlite_url()
    if stage in {"step5_queue", "step6_progress"}:
        # The API alone, on its embedded queue: jobs wait in the folder, statuses say "queued".
        env |= embedded_env()
    return serve(f"{stage}.app:app", args=["--no-access-log"], env=env)


@pytest.mark.parametrize(
    ("stage", "checks"),
    [
        ("step1_blocking", SERVER_ERRORS_ONLY),
        ("step2_background", SERVER_ERRORS_ONLY),
        ("step3_status", SERVER_ERRORS_ONLY),
        ("step4_database", DECLARED_STATUSES_TOO),
        ("step5_queue", DECLARED_STATUSES_TOO),
        # Its cancel (202, 404, 409) and event stream (200, 204, 404) are declared too.
        ("step6_progress", DECLARED_STATUSES_TOO),
    ],
)
def test_fuzzing_the_schema_finds_no_failure(
    stage: str, checks: str, serve_fresh: StartServer, tmp_path: Path
) -> None:
    server = serve_stage(serve_fresh, stage)
    command = [Path(sys.executable).with_name("st"), "run", f"{server.url}/openapi.json"]
    options = ["--checks", checks, "--max-examples", str(EXAMPLES_PER_OPERATION), "--seed", "1"]
    # In a folder of its own: schemathesis keeps its cassettes and database in the working dir.
    run = subprocess.run(
        [*command, *options], cwd=tmp_path, capture_output=True, text=True, timeout=FUZZ_SECONDS
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    cases = re.search(r"(\d+) generated, (\d+) passed", run.stdout)
    assert cases is not None and int(cases[1]) == int(cases[2]) > 0, run.stdout[-4000:]
