"""The docs' next builder: Zensical builds the same mkdocs.yml, strictly, with the same code.

The site is built with mkdocs-material (`make docs-build`), which reaches its end of life on
2027-05-05; FastAPI and Starlette build this kind of mkdocs.yml with Zensical now. This keeps a
later switch to one line: both builders must accept the config and show the same code blocks,
for each edition: mkdocs.yml, and mkdocs.zh.yml, the Chinese one, which INHERITs it.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from uvicorn_harness.server import REPO_ROOT

CONFIGS = ["mkdocs.yml", "mkdocs.zh.yml"]

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


@pytest.fixture(scope="module", params=CONFIGS)
def sites(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """The site built by mkdocs and by Zensical from the same config, each into a folder."""
    config: str = request.param
    folder = tmp_path_factory.mktemp("builders")
    by_mkdocs, by_zensical = folder / "mkdocs", folder / "zensical"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    mkdocs = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", config, "-d", by_mkdocs]
    # Zensical takes no --site-dir: a config that INHERITs this one with only its output moved
    # (Zensical follows INHERIT, chains too). Config, docs and output must all sit in the
    # project's root (Zensical refuses others), for the run. Both builds run at once.
    scratch = f".zensical-check-{uuid.uuid4().hex[:8]}"
    moved = REPO_ROOT / f"{scratch}.yml"
    moved.write_text(yaml.safe_dump({"INHERIT": config, "site_dir": scratch}), encoding="utf-8")
    zensical = [Path(sys.executable).with_name("zensical"), "build", "--strict", "-f", moved]
    try:
        by_mkdocs_run = subprocess.Popen(
            mkdocs, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        built = subprocess.run(
            zensical, cwd=REPO_ROOT, capture_output=True, text=True, timeout=BUILD_SECONDS
        )
        mkdocs_output, _ = by_mkdocs_run.communicate(timeout=BUILD_SECONDS)
        if built.returncode == 0:
            shutil.move(REPO_ROOT / scratch, by_zensical)
    finally:
        moved.unlink()
        shutil.rmtree(REPO_ROOT / scratch, ignore_errors=True)
    assert by_mkdocs_run.returncode == 0, mkdocs_output.decode()
    assert built.returncode == 0, built.stdout + built.stderr
    assert "No issues found" in built.stdout + built.stderr, built.stdout + built.stderr
    return by_mkdocs, by_zensical


def test_zensical_builds_every_page_mkdocs_builds(sites: tuple[Path, Path]) -> None:
    by_mkdocs, by_zensical = sites
    assert set(pages(by_mkdocs)) == set(pages(by_zensical))


def test_zensical_shows_the_same_code_on_every_page(sites: tuple[Path, Path]) -> None:
    by_mkdocs, by_zensical = sites
    zensical_pages = pages(by_zensical)
    for name, page in pages(by_mkdocs).items():
        assert code_blocks(zensical_pages[name]) == code_blocks(page), name


LOADED = re.compile(
    r'<(?:img|script)\s[^>]*src="(?P<src>[^":]+?)"|<link\s[^>]*href="(?P<css>[^":]+?\.css)"'
)


def test_zensical_copies_every_file_of_ours_the_pages_load(sites: tuple[Path, Path]) -> None:
    # Images, the extra CSS and JavaScript (not the theme's own files, which differ). In the
    # Chinese edition these are symlinked files, which Zensical copies; a symlinked folder it
    # would leave out without a warning.
    by_mkdocs, by_zensical = sites
    for name, page in pages(by_mkdocs).items():
        for match in LOADED.finditer(page.read_text(encoding="utf-8")):
            loaded = (page.parent / (match.group("src") or match.group("css"))).resolve()
            relative = loaded.relative_to(by_mkdocs.resolve())
            if (REPO_ROOT / "docs" / relative).is_file():
                assert (by_zensical / relative).is_file(), f"{name}: {relative} not copied"
