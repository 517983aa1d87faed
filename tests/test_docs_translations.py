"""A Chinese page is up to date with the English text it translates, section by section.

Each docs/zh/ page records a hash of every section of its English page (tests/translations.py);
an English section edited since then fails here, naming the page and the section and the
command that stamps the page once its translation is updated.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.docs_build import CHINESE, ENGLISH
from tests.translations import (
    STAMP_COMMAND,
    Stale,
    chinese_pages,
    how_to_fix,
    main,
    sections,
    stale_sections,
    stamp,
)

PAGE = "step3_status.md"  # a page with code, a console block and a diagram
EDITED_SECTION = "## What the console shows"


@pytest.mark.parametrize("chinese", chinese_pages(), ids=lambda page: page.name)
def test_each_chinese_page_translates_its_english_page_as_it_is_now(chinese: Path) -> None:
    stale = stale_sections(chinese)
    assert not stale, how_to_fix(chinese, stale)


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    """Copies of an English page and its Chinese page, stamped as the real ones are."""
    (tmp_path / "zh").mkdir()
    english = Path(shutil.copy(ENGLISH.docs / PAGE, tmp_path / PAGE))
    chinese = Path(shutil.copy(CHINESE.docs / PAGE, tmp_path / "zh" / PAGE))
    assert stale_sections(chinese, english) == []
    return english, chinese


def first_line_of_prose(english: Path) -> str:
    """The first line of the edited section's first paragraph."""
    text = sections(english.read_text(encoding="utf-8"))[EDITED_SECTION]
    return next(line for line in text.splitlines()[1:] if line[:1].isalpha())


def edit(page: Path, old: str, new: str) -> None:
    text = page.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    page.write_text(text.replace(old, new), encoding="utf-8")


def test_an_edited_english_paragraph_makes_its_section_stale(pair: tuple[Path, Path]) -> None:
    english, chinese = pair
    paragraph = first_line_of_prose(english)
    edit(english, paragraph, paragraph + " One sentence more.")

    stale = stale_sections(chinese, english)
    assert stale == [Stale(EDITED_SECTION, "changed")]
    message = how_to_fix(chinese, stale)
    assert repr(EDITED_SECTION) in message and f"{STAMP_COMMAND} {chinese}" in message, message

    # Once the translation is updated, one command records it.
    stamp(chinese, english)
    assert stale_sections(chinese, english) == []


def test_rewrapping_a_paragraph_changes_nothing(pair: tuple[Path, Path]) -> None:
    english, chinese = pair
    paragraph = first_line_of_prose(english)
    words = paragraph.split()
    rewrapped = " ".join(words[:3]) + "\n" + " ".join(words[3:])
    edit(english, paragraph, rewrapped)
    assert stale_sections(chinese, english) == []


def test_a_new_heading_and_a_renamed_one_are_named(pair: tuple[Path, Path]) -> None:
    english, chinese = pair
    edit(english, f"\n{EDITED_SECTION}\n", "\n## What the console says\n")
    english.write_text(
        english.read_text(encoding="utf-8") + "\n## A new section\n\nNew text.\n", "utf-8"
    )
    assert stale_sections(chinese, english) == [
        Stale("## What the console says", "new"),
        Stale("## A new section", "new"),
        Stale(EDITED_SECTION, "gone"),
    ]


def test_a_heading_inside_code_is_code() -> None:
    page = "# Title\n\nText.\n\n```sh\n# a comment\n```\n\n    ```py\n# also code\n    ```\n"
    assert list(sections(page)) == ["# Title"]
    assert sections("Intro.\n\n# Title\n\n## Again\n\n## Again\n").keys() == {
        "(before the first heading)",
        "# Title",
        "## Again",
        "## Again (2)",
    }


def test_the_stamps_are_what_the_stamp_command_writes(tmp_path: Path) -> None:
    # Stamping a copy of each page again changes nothing: the record is the command's own.
    # (A page whose English changed is reported by the first test, not here.)
    for chinese in chinese_pages():
        if stale_sections(chinese):
            continue
        copy = Path(shutil.copy(chinese, tmp_path / chinese.name))
        stamp(copy, ENGLISH.docs / chinese.name)
        assert copy.read_text("utf-8") == chinese.read_text("utf-8"), (
            f"{chinese.name}: stamped by hand? run {STAMP_COMMAND} docs/zh/{chinese.name}"
        )


def test_the_check_command_says_every_page_is_up_to_date(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check"]) == 0
    assert "are up to date" in capsys.readouterr().out
