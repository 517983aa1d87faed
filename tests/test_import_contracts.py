"""The layers as a lint rule: pyproject.toml's import contracts (`make lint` runs lint-imports).

They cover every stage and every package of the tree, and they are not vacuous: a copy of the
tree with one forbidden import fails them, naming the contract it breaks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from uvicorn_harness.server import REPO_ROOT
from uvicorn_harness.stages import STAGE_FOLDER, stage_number

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
STAGES = sorted(
    (path.name for path in REPO_ROOT.iterdir() if STAGE_FOLDER.match(path.name)),
    key=stage_number,
)
PACKAGES = sorted(
    path.parent.name for path in REPO_ROOT.glob("*/__init__.py") if path.parent.name[0] != "."
)


def importlinter_config() -> dict[str, Any]:
    config: dict[str, Any] = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text("utf-8"))
    return dict(config["tool"]["importlinter"])


def contract(contract_id: str) -> dict[str, Any]:
    contracts: list[dict[str, Any]] = importlinter_config()["contracts"]
    return next(found for found in contracts if found["id"] == contract_id)


def test_the_contracts_know_every_package_and_every_stage() -> None:
    assert sorted(importlinter_config()["root_packages"]) == PACKAGES
    assert contract("stages")["modules"] == STAGES
    assert contract("queue")["forbidden_modules"] == STAGES
    assert contract("lessons")["source_modules"] == [*STAGES, "embedded_queue"]
    outside_tests = [package for package in PACKAGES if package != "tests"]
    assert sorted(contract("tests")["source_modules"]) == outside_tests


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    # Its own PYTHONPATH only: the tree is found from the working directory, as in `make lint`.
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tree's Python packages and pyproject.toml, as the contracts read them."""
    tree = tmp_path_factory.mktemp("tree")
    shutil.copy(REPO_ROOT / "pyproject.toml", tree)
    for package in PACKAGES:
        shutil.copytree(
            REPO_ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return tree


def test_the_tree_keeps_every_contract(tree_copy: Path) -> None:
    result = lint_imports(tree_copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


VIOLATIONS = [
    pytest.param(
        "step6_progress/borrowed.py",
        "from step5_queue.tasks import ENDING\n",
        "A stage imports no other stage",
        id="a-stage-imports-another",
    ),
    pytest.param(
        "embedded_queue/borrowed.py",
        "import step5_queue.tasks\n",
        "embedded_queue imports no stage",
        id="the-queue-imports-a-stage",
    ),
    pytest.param(
        "step3_status/borrowed.py",
        "from uvicorn_harness.server import wait_until\n",
        "Stages and embedded_queue import no tooling",
        id="a-stage-imports-the-harness",
    ),
    pytest.param(
        "bench/borrowed.py",
        "from tests.services import service_url\n",
        "Nothing outside tests/ imports tests/",
        id="bench-imports-tests",
    ),
]


@pytest.fixture(scope="module")
def with_violations(tree_copy: Path) -> str:
    """lint-imports' report on the copy with every violation below added at once."""
    added = []
    for violation in VIOLATIONS:
        module, source, _ = violation.values
        path = tree_copy / str(module)
        path.write_text(str(source), encoding="utf-8")
        added.append(path)
    try:
        result = lint_imports(tree_copy)
    finally:
        for path in added:
            path.unlink()
    assert result.returncode == 1, result.stdout + result.stderr
    return result.stdout


def test_each_violation_breaks_one_contract(with_violations: str) -> None:
    assert f"Contracts: 0 kept, {len(VIOLATIONS)} broken." in with_violations, with_violations


@pytest.mark.parametrize(("module", "source", "broken"), VIOLATIONS)
def test_a_forbidden_import_breaks_its_contract(
    with_violations: str, module: str, source: str, broken: str
) -> None:
    _, _, broken_section = with_violations.partition("Broken contracts")
    assert broken in broken_section, with_violations
    importer = module.removesuffix(".py").replace("/", ".")
    assert f"{importer} -> " in broken_section, with_violations
