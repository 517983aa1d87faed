"""Each stage serves the way the article runs it: `python -m stageN` (uvicorn.run with reload)."""

import sys

import httpx
import pytest

from uvicorn_harness.server import StartServer
from uvicorn_harness.stage_timing import ARTICLE_STAGES


@pytest.mark.parametrize("stage", ARTICLE_STAGES)
def test_python_dash_m_serves_the_stage_with_reload(stage: str, serve_fresh: StartServer) -> None:
    server = serve_fresh(command=[sys.executable, "-m", stage], env={"PORT": "0"})
    assert any("Started reloader process" in line for line in server.console_lines())
    schema = httpx.get(f"{server.url}/openapi.json").json()
    assert "post" in schema["paths"]["/long_task"]
