"""The Chinese edition pairs up with the English one, page by page.

mkdocs.zh.yml INHERITs mkdocs.yml with docs/zh/ as its pages: every English page has its Chinese
page and the other way round, and each pair includes the same files, shows the same images, draws
the same diagrams and has the same headings with the same anchors. Everything else in docs/zh/
links to the English file.
"""

from __future__ import annotations

import itertools
import os
import re

import pytest

from tests.docs_build import CHINESE, DOCS, ENGLISH, DocsBuild, Edition
from tests.docs_pages import (
    MERMAID_PARTICIPANT,
    images,
    includes,
    load_config,
    mermaid_sources,
    nav_pages,
)


def test_every_english_page_has_a_chinese_page_and_the_other_way_round() -> None:
    english = {path.name for path in ENGLISH.docs.glob("*.md")}
    chinese = {path.name for path in CHINESE.docs.glob("*.md")}
    assert not english - chinese, f"no Chinese page (docs/zh/) for {sorted(english - chinese)}"
    assert not chinese - english, f"no English page (docs/) for {sorted(chinese - english)}"
    assert nav_pages(CHINESE) == nav_pages(ENGLISH), "the navs differ (pages, or their order)"


# The pairs of the English nav: a page missing in Chinese fails here too, by name.
PAIRS = [pytest.param(page, id=page) for page in nav_pages(ENGLISH)]


@pytest.mark.parametrize("page", PAIRS)
def test_each_pair_includes_the_same_files(page: str) -> None:
    # The same snippets, section for section: code, console blocks, generated tables.
    assert (CHINESE.docs / page).exists(), f"docs/zh/{page} is missing"
    english, chinese = includes(page, ENGLISH), includes(page, CHINESE)
    assert chinese == english, (
        f"{page}: only in English {sorted((english - chinese).elements())}, "
        f"only in Chinese {sorted((chinese - english).elements())}"
    )


@pytest.mark.parametrize("page", PAIRS)
def test_each_pair_shows_the_same_images(page: str) -> None:
    assert (CHINESE.docs / page).exists(), f"docs/zh/{page} is missing"
    assert images(page, CHINESE) == images(page, ENGLISH), page


def _diagram_outline(source: str) -> tuple[str, list[str]]:
    """A mermaid diagram's kind and its participants' names (their labels are translated)."""
    names = [
        m.group("name") for line in source.splitlines() if (m := MERMAID_PARTICIPANT.match(line))
    ]
    return source.split()[0], names


@pytest.mark.parametrize("page", PAIRS)
def test_each_pair_draws_the_same_diagrams(page: str) -> None:
    # Diagrams are written on the page (their words translated), not included: the same ones,
    # of the same kind, between the same participants, in the same order.
    assert (CHINESE.docs / page).exists(), f"docs/zh/{page} is missing"
    english = [_diagram_outline(source) for source in mermaid_sources(page, ENGLISH)]
    chinese = [_diagram_outline(source) for source in mermaid_sources(page, CHINESE)]
    assert chinese == english, page


HEADING = re.compile(r'<h(?P<level>[1-6]) id="(?P<id>[^"]+)"')


def built_headings(build: DocsBuild, edition: Edition, page: str) -> list[tuple[int, str]]:
    """(level, anchor) of every heading of a built page, in order."""
    html = build.page(edition, page).read_text(encoding="utf-8")
    article = html.split('<article class="md-content__inner', 1)[1].split("</article>", 1)[0]
    return [(int(m.group("level")), m.group("id")) for m in HEADING.finditer(article)]


@pytest.mark.parametrize("page", PAIRS)
def test_each_pair_has_the_same_headings_and_anchors(docs_build: DocsBuild, page: str) -> None:
    # Chinese headings carry the English heading's anchor (`## 标题 { #english-slug }`), so a
    # link to `page.md#anchor` works from either edition, and the switcher keeps the reader's
    # place. Read from the built pages: what toc made of both.
    assert docs_build.page(CHINESE, page).exists(), f"zh/{page} was not built"
    english = built_headings(docs_build, ENGLISH, page)
    chinese = built_headings(docs_build, CHINESE, page)
    assert len(chinese) == len(english), f"{page}: {len(english)} headings, {len(chinese)} in zh"
    assert chinese == english, "\n".join(
        f"{page}: English {en}, Chinese {zh}"
        for en, zh in zip(english, chinese, strict=True)
        if en != zh
    )


def test_the_chinese_edition_links_to_the_english_files_instead_of_copying_them() -> None:
    # docs/zh holds the pages and nothing else of its own: every other file there is a symlink
    # to the English file (committed as a git symlink; mkdocs and Zensical both follow a
    # symlinked file, Zensical no symlinked folder), so a redrawn chart is redrawn in both.
    for path in sorted(CHINESE.docs.rglob("*")):
        relative = path.relative_to(CHINESE.docs)
        if path.is_dir() and not path.is_symlink():
            continue
        if path.parent == CHINESE.docs and path.suffix == ".md" and not path.is_symlink():
            continue
        assert path.is_symlink(), f"docs/zh/{relative} is a copy: link the English file"
        target = path.resolve()
        assert target == (DOCS / relative).resolve() and target.is_file(), (
            f"docs/zh/{relative} must link to docs/{relative}"
        )
    # ...and every file a Chinese page needs is there: images (the strict build checks those
    # too) and the config's extra CSS and JavaScript (which nothing else checks).
    config = load_config(CHINESE)
    needed = {*config["extra_css"], *config["extra_javascript"]}
    needed |= {image for page in nav_pages(CHINESE) for image in images(page, CHINESE)}
    for relative in sorted(needed):
        assert (CHINESE.docs / relative).is_file(), (
            f"docs/zh/{relative} is missing: "
            f"ln -s {os.path.relpath(DOCS / relative, (CHINESE.docs / relative).parent)} "
            f"docs/zh/{relative}"
        )


CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
BLOCK_START = re.compile(r"^\s*(?:[-*+] |\d+\. |\||#|!!!|\?\?\?|===|--8<--|<!--|:|`{3}|!\[)")


@pytest.mark.parametrize("page", nav_pages(CHINESE))
def test_chinese_lines_do_not_break_between_two_chinese_characters(page: str) -> None:
    # A browser shows a line break inside a paragraph as a space, which between two Chinese
    # characters is a stray gap in the sentence: break a Chinese line only next to Latin text
    # (where a space belongs), or keep the paragraph on one line.
    breaks, in_fence = [], False
    lines = (CHINESE.docs / page).read_text(encoding="utf-8").splitlines()
    for number, (line, following) in enumerate(itertools.pairwise(lines), start=1):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        if in_fence or not line.strip() or not following.strip():
            continue
        if BLOCK_START.match(following) or line.lstrip()[0] in "#|":
            continue
        if CJK.match(line.rstrip()[-1]) and CJK.match(following.lstrip()[0]):
            breaks.append(f"line {number}: {line.strip()[-10:]} / {following.strip()[:10]}")
    assert not breaks, f"zh/{page}: a line break between Chinese characters:\n" + "\n".join(breaks)
