"""The suite's own scheduling (tests/work_order.py): longest unit of work first."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests import work_order

CRASHES = "tests/test_step5_queue_crashes.py"


def test_a_module_is_one_unit_and_a_spread_module_s_test_is_its_own() -> None:
    assert work_order.unit_of("tests/test_docs_code.py::test_a[en]") == "tests/test_docs_code.py"
    assert work_order.unit_of(f"{CRASHES}::test_kill[redis]") == f"{CRASHES}::test_kill[redis]"


def test_longest_unit_goes_first_and_a_module_keeps_its_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seconds = {"tests/test_a.py": 5.0, "tests/test_b.py": 40.0, f"{CRASHES}::test_x": 20.0}
    monkeypatch.setattr(work_order, "stored_seconds", lambda: seconds)
    collected = [
        "tests/test_a.py::test_1",
        "tests/test_a.py::test_2",
        "tests/test_b.py::test_2",
        "tests/test_b.py::test_1",
        f"{CRASHES}::test_x",
        "tests/test_new.py::test_1",  # no seconds yet: first, so a slow new module is not last
    ]
    assert work_order.longest_first(collected) == [
        "tests/test_new.py::test_1",
        "tests/test_b.py::test_2",
        "tests/test_b.py::test_1",
        f"{CRASHES}::test_x",
        "tests/test_a.py::test_1",
        "tests/test_a.py::test_2",
    ]


def test_stored_seconds_are_summed_by_unit_over_the_stored_ones(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stored = tmp_path / "durations.json"
    stored.write_text(
        '{"tests/test_a.py": 9.0, "tests/test_work_order.py": 1.0, "tests/test_gone.py": 5.0}'
    )
    monkeypatch.setattr(work_order, "DURATIONS_JSON", stored)
    work_order.store(
        Counter({"tests/test_a.py::t1": 1.04, "tests/test_a.py::t2": 2.0, f"{CRASHES}::t": 3.0})
    )
    assert work_order.stored_seconds() == {
        "tests/test_a.py": 3.0,  # measured again
        f"{CRASHES}::t": 3.0,
        "tests/test_work_order.py": 1.0,  # not measured by this run: kept
    }  # tests/test_gone.py, whose module is gone, is dropped
