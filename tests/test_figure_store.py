"""The figure store (tests/figure_store.py): what the docs include is what the stored figures
render to, every stored figure names a test that exists, and the store's rules hold."""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import crash_table, figure_store
from tests.figure_store import FigureKind, kinds, writing
from uvicorn_harness.server import REPO_ROOT

KINDS_WITH_FILES = [
    pytest.param(kind, id=kind.name) for kind in kinds() if kind.stored_file is not None
]


@pytest.mark.parametrize("kind", KINDS_WITH_FILES)
def test_each_included_file_is_what_its_stored_figures_render_to(
    request: pytest.FixtureRequest, kind: FigureKind[Any]
) -> None:
    if writing(request.config):
        pytest.skip("--write-figures: the files are rendered when the run ends")
    rendered = kind.rendered(list(kind.stored().values()))
    assert rendered, f"{kind.name} renders no file"
    for path, text in rendered.items():
        assert path.read_text(encoding="utf-8") == text, f"{path.name}: run --write-figures"


def test_the_crash_table_has_a_cell_for_every_crash_and_broker() -> None:
    assert crash_table.missing_cells(crash_table.stored_cells()) == []


def defined_tests(module: Path) -> set[str]:
    """The names of the test functions a module defines."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


@pytest.mark.parametrize("kind", KINDS_WITH_FILES)
def test_every_stored_figure_names_a_test_that_exists(kind: FigureKind[Any]) -> None:
    # A renamed or removed test leaves its figures on the page, and nothing would measure
    # them again: --write-figures with the test that measures them now replaces them.
    for key, figure in kind.stored().items():
        test = kind.test_of(figure)
        assert test, f"{kind.name}: {key} names no test"
        path, _, name = test.partition("::")
        module = REPO_ROOT / path
        assert module.exists(), f"{kind.name}: {key} names {test}, whose module is gone"
        assert name.split("[", 1)[0] in defined_tests(module), f"{kind.name}: {key}: {test}?"


# --- The store's rules, on a kind of its own in a temporary folder ---------------------------


@dataclass(frozen=True)
class Reading:
    name: str
    value: float
    test: str = ""


class Readings(FigureKind[Reading]):
    name = "readings"
    figure_type = Reading

    def __init__(self, stored_file: Path) -> None:
        self.stored_file = stored_file

    def key(self, figure: Reading) -> str:
        return figure.name

    def disagreement(self, stored: Reading, live: Reading) -> str | None:
        return None if abs(stored.value - live.value) <= 1 else f"{stored} against {live}"

    def rendered(self, stored: list[Reading]) -> dict[Path, str]:
        assert self.stored_file is not None
        lines = [f"{figure.name}: {figure.value:g}\n" for figure in stored]
        return {self.stored_file.with_suffix(".md"): "".join(lines)}


def stored_as(path: Path, *figures: Reading) -> Readings:
    path.write_text(json.dumps([vars(figure) for figure in figures]), encoding="utf-8")
    return Readings(path)


def test_a_recorded_figure_names_its_test_and_must_agree_with_the_stored_one(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(figure_store, "writing", lambda _config: False)  # also under the option
    kind = stored_as(tmp_path / "readings.json", Reading("a", 10.0))
    recorded = kind.record(request, Reading("a", 10.5))
    assert recorded.test == request.node.nodeid
    with pytest.raises(AssertionError, match="against"):
        kind.record(request, Reading("a", 12.0))
    with pytest.raises(AssertionError, match="is not on the page"):
        kind.record(request, Reading("b", 1.0))


def test_a_stored_figure_its_test_no_longer_records_is_found(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    test = request.node.nodeid
    kind = stored_as(tmp_path / "readings.json", Reading("a", 1, test), Reading("b", 2, test))
    kind.record(request, Reading("a", 1))
    assert kind.not_measured_again(request.config, test) == ["b"]
    assert kind.not_measured_again(request.config, "tests/test_other.py::test_x") == []


def test_storing_replaces_the_figures_of_the_tests_that_passed_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    kind = stored_as(
        tmp_path / "readings.json",
        Reading("gone", 1, "t::passed"),  # its test passed without it: dropped
        Reading("kept", 2, "t::not_run"),
        Reading("again", 3, "t::passed"),
    )
    kind.store(
        [Reading("again", 30, "t::passed"), Reading("failed", 4, "t::failed")],
        passed={"t::passed"},
    )
    assert list(kind.stored().values()) == [
        Reading("kept", 2, "t::not_run"),
        Reading("again", 30, "t::passed"),
    ]
    assert (tmp_path / "readings.md").read_text(encoding="utf-8") == "kept: 2\nagain: 30\n"
