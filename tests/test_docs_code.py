"""The docs site's code: it builds strictly, and its pages show the real files.

Each listing is included from the file it shows, with the lines changed since the previous stage
highlighted; a line range cuts the file between whole blocks; every console block is included by
a page and checked by a test against what a real server printed. The checks iterate over
mkdocs.yml's nav and over both editions (mkdocs.zh.yml, docs/zh/), so a page that a later issue
adds is checked the same way.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs_build import CHINESE, DOCS, EDITIONS, DocsBuild, Edition
from tests.docs_pages import (
    changed_lines,
    included_code,
    mermaid_sources,
    nav_pages,
    page_with_includes,
    pages_of,
    previous_stage_file,
    shown_lines,
    stage_pages,
)
from uvicorn_harness.server import REPO_ROOT

# ---------------------------------------------------------------------------------------------
# The build


@pytest.mark.parametrize("edition", EDITIONS, ids=str)
def test_mkdocs_build_strict_passes(docs_build: DocsBuild, edition: Edition) -> None:
    # Strict mode fails on broken links, unknown anchors and (with check_paths) missing snippets.
    # The build: tests/docs_build.py, once per run, both editions as `make docs-build` does.
    result = docs_build.results[edition.language]
    assert result.returncode == 0, result.output
    for page in nav_pages(edition):
        assert docs_build.page(edition, page).exists(), f"{edition.language}/{page} was not built"


@pytest.mark.parametrize("edition", EDITIONS, ids=str)
def test_every_page_in_docs_is_in_the_nav(edition: Edition) -> None:
    # Top level only: subfolders (docs/console, generated includes) hold snippets, not pages.
    pages = {path.name for path in edition.docs.glob("*.md")}
    assert pages == set(nav_pages(edition))


# ---------------------------------------------------------------------------------------------
# What the pages show


@pytest.mark.parametrize(("edition", "page"), pages_of(stage_pages))
def test_highlighted_lines_are_the_lines_changed_since_the_previous_stage(
    edition: Edition, page: str
) -> None:
    # On a stage page a highlight means "changed since the previous stage" (other pages may
    # highlight for other reasons, e.g. the line a pitfall is about).
    # Both files are compared as a whole-file include shows them (no section markers); a
    # section's highlights are the whole file's, counted from the section's first line.
    for block in included_code(page, edition):
        previous = previous_stage_file(block.path)
        if block.hl_lines is None or previous is None:
            continue
        whole = shown_lines(block.path)
        changed = changed_lines(shown_lines(str(previous.relative_to(REPO_ROOT))), whole)
        if block.section is not None:
            first = _section_offset(whole, block.shown) + 1
            last = first + len(block.shown) - 1
        else:
            first = block.start or 1
            last = block.end or len(whole)
        expected = [number - first + 1 for number in changed if first <= number <= last]
        where = block.section or f"lines {first}-{last}"
        assert block.hl_lines == expected, (
            f"{page}: hl_lines for {block.path} ({where}) should be "
            f"{' '.join(map(str, expected))} (changed since {previous.relative_to(REPO_ROOT)})"
        )


def _section_offset(whole: list[str], section: list[str]) -> int:
    """Where a section's lines start in the whole file (markers removed from both)."""
    for offset in range(len(whole) - len(section) + 1):
        if whole[offset : offset + len(section)] == section:
            return offset
    raise AssertionError(f"section not found: {section[:2]}")


@pytest.mark.parametrize(("edition", "page"), pages_of(stage_pages))
def test_stage_page_highlights_what_changed_in_its_app(edition: Edition, page: str) -> None:
    stage = page.removesuffix(".md")
    whole_app = [
        block
        for block in included_code(page, edition)
        if block.path == f"{stage}/app.py" and block.start is None
    ]
    assert whole_app, f"{page} must include the whole {stage}/app.py"
    if previous_stage_file(f"{stage}/app.py") is not None:
        assert all(block.hl_lines for block in whole_app), f"{page}: highlight what changed"


@pytest.mark.parametrize(("edition", "page"), pages_of(stage_pages))
def test_partial_includes_cut_the_file_between_whole_blocks(edition: Edition, page: str) -> None:
    # A line range that drifts (lines added above it) would cut a function in half; this
    # catches that: the range must start and end next to a blank line or the file's ends.
    for block in included_code(page, edition):
        if block.start is None or block.end is None:
            continue
        lines = (REPO_ROOT / block.path).read_text(encoding="utf-8").splitlines()
        before = lines[block.start - 2] if block.start > 1 else ""
        after = lines[block.end] if block.end < len(lines) else ""
        where = f"{page}: {block.path}:{block.start}:{block.end}"
        assert not before.strip(), f"{where} starts in the middle of a block"
        assert not after.strip(), f"{where} ends in the middle of a block"
        assert lines[block.start - 1].strip() and lines[block.end - 1].strip(), where
        if "linenums" in block.options:
            assert int(block.options["linenums"]) == block.start, f"{where}: linenums"


@pytest.mark.parametrize(("edition", "page"), pages_of(stage_pages))
def test_stage_page_has_console_block_and_sequence_diagram(edition: Edition, page: str) -> None:
    code = included_code(page, edition)
    assert any(block.path.startswith("docs/console/") for block in code)
    diagrams = mermaid_sources(page, edition)
    assert any(source.lstrip().startswith("sequenceDiagram") for source in diagrams)


@pytest.mark.parametrize(("edition", "page"), pages_of(stage_pages))
def test_stage_page_ends_by_pointing_to_the_next_page(edition: Edition, page: str) -> None:
    pages = nav_pages(edition)
    following = pages[pages.index(page) + 1 :]
    assert following, f"{page} is the last page in the nav"
    text = (edition.docs / page).read_text(encoding="utf-8")
    assert f"]({following[0]})" in text.strip().splitlines()[-1], f"{page} links to {following[0]}"


def console_blocks() -> list[str]:
    return sorted(path.stem for path in (DOCS / "console").glob("*.txt"))


def test_there_are_console_blocks() -> None:
    assert console_blocks(), "no console blocks in docs/console"


@pytest.mark.parametrize("name", console_blocks())
def test_console_block_is_shown_by_a_page_and_checked_by_a_test(name: str) -> None:
    for edition in EDITIONS:
        pages_text = "\n".join(
            text for page in nav_pages(edition) for text in page_with_includes(edition, page)
        )
        include = f'"docs/console/{name}.txt"'
        assert include in pages_text, f"no {edition.language} page includes {name}.txt"
    # A test checks a block by calling assert_console_matches with the block's name, quoted in
    # its module (directly, or as the module's STAGE).
    test_modules = [
        path.read_text(encoding="utf-8") for path in (REPO_ROOT / "tests").glob("test_*.py")
    ]
    assert any(
        "assert_console_matches(" in module and f'"{name}"' in module for module in test_modules
    ), f"no test module calls assert_console_matches for {name!r}"


ARTICLE_CREDIT = (
    '"Leveraging Background Tasks in FastAPI"',
    "利用 FastAPI 中的后台任务:增强性能和响应能力",
    "高效码农",
    "August 15, 2023",
)
# The Chinese home page gives the date as a Chinese reader writes it.
ARTICLE_CREDIT_ZH = (*ARTICLE_CREDIT[:3], "2023 年 8 月 15 日")


@pytest.mark.parametrize(
    ("where", "credit"),
    [
        (REPO_ROOT / "README.md", ARTICLE_CREDIT),
        (DOCS / "index.md", ARTICLE_CREDIT),
        (CHINESE.docs / "index.md", ARTICLE_CREDIT_ZH),
    ],
    ids=lambda value: str(value.relative_to(REPO_ROOT)) if isinstance(value, Path) else "",
)
def test_the_article_is_named_and_credited(where: Path, credit: tuple[str, ...]) -> None:
    # Joined lines: the credit may wrap anywhere but inside a name. Chinese text wraps without
    # a space, so a line break there joins to nothing.
    lines = where.read_text(encoding="utf-8").splitlines()
    text = " ".join(" ".join(lines).split())
    joined = "".join(line.strip() for line in lines)
    for part in credit:
        assert part in text or part in joined, f"{where.name} does not credit the article: {part!r}"
