"""The docs' next builder: Zensical builds the same mkdocs.yml, strictly, with the same code.

The site is built with mkdocs-material (`make docs-build`), which reaches its end of life on
2027-05-05; FastAPI and Starlette build this kind of mkdocs.yml with Zensical now. This keeps a
later switch to one line: both builders must accept the config and show the same code blocks,
for each edition: mkdocs.yml, and mkdocs.zh.yml, the Chinese one, which INHERITs it.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.docs_build import EDITIONS, DocsBuild, Edition
from uvicorn_harness.server import REPO_ROOT

BUILD_SECONDS = 120
CODE_BLOCK = re.compile(r"<pre[^>]*>(?P<body>.*?)</pre>", re.DOTALL)
TAG = re.compile(r"<[^>]+>")


def code_blocks(page: Path) -> list[str]:
    """Every <pre> block of a built page as the text a reader copies (tags and numbers gone)."""
    blocks = []
    for match in CODE_BLOCK.finditer(page.read_text(encoding="utf-8")):
        text = html.unescape(TAG.sub("", match.group("body")))
        blocks.append("\n".join(line.rstrip() for line in text.strip().splitlines()))
    return blocks


def pages(site: Path) -> dict[str, Path]:
    return {str(page.relative_to(site)): page for page in sorted(site.rglob("index.html"))}


@dataclass(frozen=True)
class Sites:
    """One edition's pages as mkdocs built them (the run's shared build) and as Zensical did."""

    by_mkdocs: dict[str, Path]
    mkdocs_site: Path
    by_zensical: Path


@pytest.fixture(scope="module", params=EDITIONS, ids=str)
def sites(
    request: pytest.FixtureRequest,
    docs_build: DocsBuild,
    tmp_path_factory: pytest.TempPathFactory,
) -> Sites:
    """An edition built by Zensical into a folder, next to mkdocs' build of it."""
    edition: Edition = request.param
    by_zensical = tmp_path_factory.mktemp("zensical") / edition.language
    # Zensical takes no --site-dir: a config that INHERITs the edition's with only its output
    # moved (Zensical follows INHERIT, chains too). Config, docs and output must all sit in the
    # project's root (Zensical refuses others), for the run.
    scratch = f".zensical-check-{uuid.uuid4().hex[:8]}"
    moved = REPO_ROOT / f"{scratch}.yml"
    moved.write_text(
        yaml.safe_dump({"INHERIT": edition.config.name, "site_dir": scratch}), encoding="utf-8"
    )
    zensical = [Path(sys.executable).with_name("zensical"), "build", "--strict", "-f", moved]
    try:
        built = subprocess.run(
            zensical, cwd=REPO_ROOT, capture_output=True, text=True, timeout=BUILD_SECONDS
        )
        if built.returncode == 0:
            shutil.move(REPO_ROOT / scratch, by_zensical)
    finally:
        moved.unlink()
        shutil.rmtree(REPO_ROOT / scratch, ignore_errors=True)
    assert built.returncode == 0, built.stdout + built.stderr
    assert "No issues found" in built.stdout + built.stderr, built.stdout + built.stderr
    assert docs_build.results[edition.language].returncode == 0, "mkdocs did not build it"
    return Sites(docs_build.pages(edition), docs_build.folder(edition), by_zensical)


def test_zensical_builds_every_page_mkdocs_builds(sites: Sites) -> None:
    assert set(sites.by_mkdocs) == set(pages(sites.by_zensical))


def test_zensical_shows_the_same_code_on_every_page(sites: Sites) -> None:
    zensical_pages = pages(sites.by_zensical)
    for name, page in sites.by_mkdocs.items():
        assert code_blocks(zensical_pages[name]) == code_blocks(page), name


LOADED = re.compile(
    r'<(?:img|script)\s[^>]*src="(?P<src>[^":]+?)"|<link\s[^>]*href="(?P<css>[^":]+?\.css)"'
)


def test_zensical_copies_every_file_of_ours_the_pages_load(sites: Sites) -> None:
    # Images, the extra CSS and JavaScript (not the theme's own files, which differ). In the
    # Chinese edition these are symlinked files, which Zensical copies; a symlinked folder it
    # would leave out without a warning.
    for name, page in sites.by_mkdocs.items():
        for match in LOADED.finditer(page.read_text(encoding="utf-8")):
            loaded = (page.parent / (match.group("src") or match.group("css"))).resolve()
            relative = loaded.relative_to(sites.mkdocs_site.resolve())
            if (REPO_ROOT / "docs" / relative).is_file():
                assert (sites.by_zensical / relative).is_file(), f"{name}: {relative} not copied"
