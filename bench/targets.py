"""Each stage's app, unchanged, plus an empty endpoint: the floor a background job can't beat.

uvicorn serves `bench.targets:step3_status` the way it serves `step3_status.app:app`; the only
difference is `POST /empty`, added here so the stage folders stay exactly as the docs show them.
The wrapped app is built when uvicorn asks for it, so serving one stage imports only that stage.
"""

from __future__ import annotations

import importlib

from fastapi import FastAPI

EMPTY_PATH = "/empty"


async def empty() -> None:
    """No job, no thread hop, no store: what the same server costs for doing nothing."""


def with_empty_endpoint(app: FastAPI) -> FastAPI:
    app.add_api_route(EMPTY_PATH, empty, methods=["POST"], include_in_schema=False)
    return app


def __getattr__(stage: str) -> FastAPI:
    # Module-level __getattr__ (PEP 562): uvicorn's "bench.targets:STAGE" resolves through here.
    if not stage.startswith("step"):
        raise AttributeError(stage)
    try:
        stage_module = importlib.import_module(f"{stage}.app")
    except ModuleNotFoundError as missing:
        raise AttributeError(f"no stage named {stage!r}") from missing
    app = with_empty_endpoint(stage_module.app)
    globals()[stage] = app  # built once, even if asked twice
    return app
