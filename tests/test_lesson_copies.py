"""Lesson code a later stage repeats on purpose is checked against the earlier stage's copy.

Each stage folder is complete on its own, so a stage repeats the files of the stage before
(app.py, tasks.py, __main__.py...) and changes a few lines: a diff of neighbours teaches. A
repeated file that differs is shown whole on the later stage's page, in both editions, with
exactly its changed lines highlighted; a change anywhere else fails here, so a fix made in one
copy cannot leave the bug in another unnoticed. A definition that moves to another file (stage
5's tasks.py takes `job_seconds` from stage 4's app.py) must arrive unchanged.

What stages run on but do not teach lives once, outside the stage folders (embedded_queue/).
"""

from __future__ import annotations

import ast
import difflib
import itertools
from pathlib import Path

import pytest

from tests.docs_build import EDITIONS, Edition
from tests.docs_pages import changed_lines, included_code, shown_lines
from uvicorn_harness.server import REPO_ROOT
from uvicorn_harness.stages import STAGE_FOLDER, stage_number

STAGES = sorted(
    (path.name for path in REPO_ROOT.iterdir() if STAGE_FOLDER.match(path.name)),
    key=stage_number,
)
NEIGHBOURS = list(itertools.pairwise(STAGES))


def stage_files(stage: str) -> list[str]:
    """Every file of a stage folder, relative to the folder (no bytecode caches)."""
    folder = REPO_ROOT / stage
    return sorted(
        str(path.relative_to(folder))
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )


def repeated_files() -> list[tuple[str, str]]:
    """(later copy, earlier copy) for each file a stage shares, by name, with the one before."""
    return [
        (f"{later}/{name}", f"{earlier}/{name}")
        for earlier, later in NEIGHBOURS
        for name in stage_files(later)
        if (REPO_ROOT / earlier / name).is_file()
    ]


REPEATED = repeated_files()


def test_later_stages_repeat_lesson_files() -> None:
    # The check below is only as good as the pairs it finds: stage 2 repeats stage 1's app.
    assert ("step2_background/app.py", "step1_blocking/app.py") in REPEATED
    assert ("step6_progress/tasks.py", "step5_queue/tasks.py") in REPEATED


@pytest.mark.parametrize("edition", EDITIONS, ids=str)
@pytest.mark.parametrize(("later", "earlier"), REPEATED, ids=[later for later, _ in REPEATED])
def test_a_repeated_file_changes_only_the_lines_its_page_highlights(
    edition: Edition, later: str, earlier: str
) -> None:
    # Compared as a whole-file include shows them: without pymdownx.snippets' section markers.
    changed = changed_lines(shown_lines(earlier), shown_lines(later))
    page = f"{later.split('/')[0]}.md"
    whole = [
        block
        for block in included_code(page, edition)
        if block.path == later and block.start is None and block.section is None
    ]
    if not changed:
        assert all(not block.hl_lines for block in whole), f"{page}: {later} is {earlier}"
        return
    expected = as_hl_lines(changed)
    assert whole, f'{edition.language}/{page} must show the whole {later}, hl_lines="{expected}"'
    for block in whole:
        assert block.hl_lines == changed, (
            f'{edition.language}/{page}: the whole {later} should have hl_lines="{expected}" '
            f"(the lines changed since {earlier})"
        )


def as_hl_lines(numbers: list[int]) -> str:
    """[1, 5, 7, 8, 9] -> "1 5 7-9", pymdownx.highlight's syntax, to paste into the page."""
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return " ".join(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]) for run in runs)


def definitions(path: Path) -> dict[str, str]:
    """The source of each top-level function and class in a Python file, decorators included."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            assert node.end_lineno is not None
            found[node.name] = "\n".join(lines[first - 1 : node.end_lineno])
    return found


def stage_definitions(stage: str) -> dict[tuple[str, str], str]:
    """(file, name) -> source for every top-level definition in a stage's Python files."""
    return {
        (name, definition): source
        for name in stage_files(stage)
        if name.endswith(".py")
        for definition, source in definitions(REPO_ROOT / stage / name).items()
    }


def moved_copies() -> list[tuple[str, str, str]]:
    """(name, later file, earlier file) for each definition a stage copies from the stage
    before into another file. A copy keeps at least half of the earlier definition's lines;
    one that keeps fewer is a new definition under an old name (stage 5's job, rewritten for
    Celery, keeps none of stage 4's lines)."""
    copies = []
    for earlier, later in NEIGHBOURS:
        before, after = stage_definitions(earlier), stage_definitions(later)
        for (file, name), source in after.items():
            if (file, name) in before:
                continue  # where it was: the repeated-file check above covers it
            for (old_file, old_name), old_source in before.items():
                old_lines = old_source.splitlines()
                kept = kept_lines(old_lines, source.splitlines())
                if old_name == name and 2 * kept >= len(old_lines):
                    copies.append((name, f"{later}/{file}", f"{earlier}/{old_file}"))
    return copies


def kept_lines(old: list[str], new: list[str]) -> int:
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks())


COPIES = moved_copies()


def test_stage_5_copies_the_jobs_length_into_tasks_py() -> None:
    assert ("job_seconds", "step5_queue/tasks.py", "step4_database/app.py") in COPIES
    assert not any(name == "very_long_task" for name, _, _ in COPIES)


@pytest.mark.parametrize(
    ("name", "later", "earlier"), COPIES, ids=[f"{later}:{name}" for name, later, _ in COPIES]
)
def test_a_definition_copied_into_another_file_is_the_same(
    name: str, later: str, earlier: str
) -> None:
    copy = definitions(REPO_ROOT / later)[name]
    assert copy == definitions(REPO_ROOT / earlier)[name], (
        f"{name} in {later} has drifted from {earlier}'s copy"
    )
