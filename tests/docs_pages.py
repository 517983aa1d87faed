"""The docs site's pages as files: the config, the nav, what each page includes and highlights.

Every docs test module reads the pages through these functions, so "a page", "an include" and
"a highlighted line" mean the same thing in each: mkdocs.yml's nav (both editions: mkdocs.zh.yml
INHERITs it), pymdownx.snippets' include syntax and section markers, pymdownx.highlight's
hl_lines.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.docs_build import DOCS, EDITIONS, ENGLISH, Edition
from uvicorn_harness.server import REPO_ROOT

# The stage pages the page-height limit and the timeline check apply to.
OWN_STAGE_PAGES = (
    "step1_blocking.md",
    "step2_background.md",
    "step3_status.md",
    "step4_database.md",
)
STAGE_FILE = re.compile(r"^step(?P<number>\d+)_[a-z0-9_]+/")
SNIPPET = re.compile(
    r'^\s*--8<--\s+"(?P<path>[^":]+)'
    r'(?::(?P<start>\d+):(?P<end>\d+)|:(?P<section>[a-z][-_0-9a-z]*))?"\s*$'
)
# pymdownx.snippets' section markers (`# --8<-- [start:job]`): never shown, in a whole file or
# a section (its RE_SNIPPET_SECTION; a whole-file include drops every marker line).
SECTION_MARKER = re.compile(r"--8<--\s*\[\s*(?P<type>start|end)\s*:\s*(?P<name>[-_0-9a-z]+)\s*\]")
FENCE_OPEN = re.compile(r"^\s*(?P<fence>`{3,})\s*(?P<lang>[\w-]+)(?P<options>.*)$")
OPTION = re.compile(r'(?P<name>\w+)="(?P<value>[^"]*)"')
MERMAID_PARTICIPANT = re.compile(r"^\s*participant\s+(?P<name>\w+)(?:\s+as\s+(?P<label>.+))?$")


class _MkdocsYamlLoader(yaml.SafeLoader):
    """Reads mkdocs.yml; `!!python/name:` tags (superfences' fence formatter) load as strings."""


_MkdocsYamlLoader.add_multi_constructor(
    "tag:yaml.org,2002:python/name:", lambda _loader, suffix, _node: suffix
)


def _flatten_nav(entries: list[Any]) -> list[str]:
    pages: list[str] = []
    for entry in entries:
        values = entry.values() if isinstance(entry, dict) else [entry]
        for value in values:
            pages.extend(_flatten_nav(value) if isinstance(value, list) else [value])
    return [page for page in pages if page.endswith(".md")]


def load_config(edition: Edition) -> dict[str, Any]:
    """An edition's config as mkdocs reads it: INHERIT merges dictionaries, replaces lists."""
    config = yaml.load(edition.config.read_text(encoding="utf-8"), Loader=_MkdocsYamlLoader)
    parent = config.pop("INHERIT", None)
    if parent is None:
        return dict(config)
    base = load_config(Edition(edition.language, edition.config.parent / parent, DOCS, ""))
    return _merged(base, config)


def _merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = _merged(base[key], value)
        else:
            merged[key] = value
    return merged


def nav_pages(edition: Edition = ENGLISH) -> list[str]:
    """Every page in the edition's nav, in order, as paths relative to its docs folder."""
    return _flatten_nav(load_config(edition)["nav"])


def stage_pages(edition: Edition = ENGLISH) -> list[str]:
    """The page of each stage folder (a stage's other pages, step5_deploys.md, are not)."""
    return [
        page
        for page in nav_pages(edition)
        if STAGE_FILE.match(page.removesuffix(".md") + "/")
        and (REPO_ROOT / page.removesuffix(".md")).is_dir()
    ]


def pages_of(
    pages: Callable[[Edition], list[str]], editions: tuple[Edition, ...] = EDITIONS
) -> list[Any]:
    """pytest params (edition, page) for every page of every edition, ids like `zh/index.md`."""
    return [
        pytest.param(edition, page, id=f"{edition.language}/{page}")
        for edition in editions
        for page in pages(edition)
    ]


@dataclass(frozen=True)
class IncludedCode:
    """A fenced code block on a page whose body is one snippet include."""

    page: str
    path: str  # relative to the repository root, as the snippet names it
    start: int | None
    end: int | None
    options: dict[str, str]
    section: str | None = None

    @property
    def shown(self) -> list[str]:
        """The lines the page shows, as pymdownx.snippets cuts them from the file."""
        return shown_lines(self.path, self.start, self.end, self.section)

    @property
    def hl_lines(self) -> list[int] | None:
        raw = self.options.get("hl_lines")
        return None if raw is None else parse_line_numbers(raw)


def parse_line_numbers(raw: str) -> list[int]:
    """pymdownx.highlight's hl_lines syntax: "1 5 7-9" -> [1, 5, 7, 8, 9]."""
    numbers: list[int] = []
    for part in raw.split():
        first, _, last = part.partition("-")
        numbers.extend(range(int(first), int(last or first) + 1))
    return numbers


def included_code(page: str, edition: Edition = ENGLISH) -> list[IncludedCode]:
    lines = (edition.docs / page).read_text(encoding="utf-8").splitlines()
    blocks = []
    for opening, body in itertools.pairwise(lines):
        fence, snippet = FENCE_OPEN.match(opening), SNIPPET.match(body)
        if fence and snippet:
            start, end = snippet.group("start"), snippet.group("end")
            blocks.append(
                IncludedCode(
                    page=page,
                    path=snippet.group("path"),
                    start=int(start) if start else None,
                    end=int(end) if end else None,
                    options=dict(OPTION.findall(fence.group("options"))),
                    section=snippet.group("section"),
                )
            )
    return blocks


def mermaid_sources(page: str, edition: Edition = ENGLISH) -> list[str]:
    """The body of every ```mermaid fence on a page."""
    text = (edition.docs / page).read_text(encoding="utf-8")
    return re.findall(r"^\s*```mermaid\s*\n(.*?)^\s*```\s*$", text, flags=re.M | re.S)


# Any snippet include, in a fence or not (generated tables are included as Markdown).
INCLUDE = re.compile(r'^\s*--8<--\s+"(?P<spec>[^"]+)"\s*$', flags=re.M)
IMAGE = re.compile(r"!\[[^\]]*\]\((?P<path>[^)\s]+)\)")


def includes(page: str, edition: Edition = ENGLISH) -> Counter[str]:
    """Every snippet include on a page, as written (`path`, `path:section`, `path:1:20`)."""
    text = (edition.docs / page).read_text(encoding="utf-8")
    return Counter(match.group("spec") for match in INCLUDE.finditer(text))


def page_with_includes(edition: Edition, page: str) -> list[str]:
    """A page's text and the text of each Markdown file, or section of one, it includes
    (tables, figures)."""
    included = []
    for spec in includes(page, edition):
        path, _, section = spec.partition(":")
        if path.endswith(".md"):
            included.append("\n".join(shown_lines(path, section=section or None)))
    return [(edition.docs / page).read_text(encoding="utf-8"), *included]


def images(page: str, edition: Edition = ENGLISH) -> set[str]:
    """The images a page shows, its own and those of the Markdown it includes."""
    return {
        match.group("path")
        for text in page_with_includes(edition, page)
        for match in IMAGE.finditer(text)
    }


def shown_lines(
    path: str, start: int | None = None, end: int | None = None, section: str | None = None
) -> list[str]:
    """A file's lines as an include shows them: a line range as is, a section's lines between
    its markers, a whole file without its marker lines."""
    lines = (REPO_ROOT / path).read_text(encoding="utf-8").splitlines()
    if start is not None:
        return lines[start - 1 : end]
    if section is None:
        return [line for line in lines if not SECTION_MARKER.search(line)]
    names = [
        (m.group("type"), m.group("name")) if (m := SECTION_MARKER.search(line)) else None
        for line in lines
    ]
    first = names.index(("start", section)) + 1
    last = names.index(("end", section))
    return [
        line
        for line, name in zip(lines[first:last], names[first:last], strict=True)
        if name is None
    ]


def previous_stage_file(path: str) -> Path | None:
    """The same file in the stage before (step2_x/app.py -> step1_y/app.py), if there is one."""
    match = STAGE_FILE.match(path)
    if match is None:
        return None
    relative = path[match.end() :]
    previous = int(match.group("number")) - 1
    candidates = sorted(REPO_ROOT.glob(f"step{previous}_*/{relative}"))
    return candidates[0] if candidates else None


def changed_lines(old: list[str], new: list[str]) -> list[int]:
    """1-based numbers of the lines in `new` that difflib finds inserted or replaced since `old`."""
    old_lines, new_lines = old, new
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    return [
        number + 1
        for tag, _i1, _i2, j1, j2 in matcher.get_opcodes()
        if tag in ("replace", "insert")
        for number in range(j1, j2)
    ]
