"""The docs site's two editions, and their strict build, made once per test run.

The English edition is mkdocs.yml with docs/; the Chinese one is mkdocs.zh.yml (which INHERITs
mkdocs.yml) with docs/zh/. `build_once` runs `mkdocs build --strict` of both, laid out as
`make docs-build` lays them (the Chinese site in the English one's zh/, where the language
switcher's links expect it). Every module that reads the built site (tests/test_docs_*.py)
shares one build: the first xdist worker to ask builds it, under a lock in the run's shared
temporary folder; the others wait and read it.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from uvicorn_harness.server import REPO_ROOT

DOCS = REPO_ROOT / "docs"
BUILD_SECONDS = 60.0


@dataclass(frozen=True)
class Edition:
    """One language of the site: its config, its pages, and where the built site holds them."""

    language: str
    config: Path
    docs: Path
    folder: str  # in the built site: "" for English, "zh/" for Chinese (`make docs-build`)

    def __str__(self) -> str:
        return self.language


ENGLISH = Edition("en", REPO_ROOT / "mkdocs.yml", DOCS, "")
CHINESE = Edition("zh", REPO_ROOT / "mkdocs.zh.yml", DOCS / "zh", "zh/")
EDITIONS = (ENGLISH, CHINESE)


def site_path(page: str) -> str:
    """Where mkdocs puts a page (use_directory_urls): "index.md" -> "", "a.md" -> "a/"."""
    return "" if page == "index.md" else page.removesuffix(".md") + "/"


@dataclass(frozen=True)
class Built:
    """How one edition's `mkdocs build --strict` ended."""

    returncode: int
    output: str


@dataclass(frozen=True)
class DocsBuild:
    results: dict[str, Built]  # by language
    site: Path  # both editions: English at the top, the others in their folders

    def folder(self, edition: Edition) -> Path:
        return self.site / edition.folder

    def page(self, edition: Edition, page: str) -> Path:
        return self.folder(edition) / site_path(page) / "index.html"

    def pages(self, edition: Edition) -> dict[str, Path]:
        """Every built page of one edition (not the other editions inside it), by its path."""
        folder = self.folder(edition)
        others = [self.folder(other) for other in EDITIONS if other.folder and other != edition]
        return {
            str(page.relative_to(folder)): page
            for page in sorted(folder.rglob("index.html"))
            if not any(page.is_relative_to(other) for other in others)
        }


def build_once(shared: Path) -> DocsBuild:
    """Both editions built into `shared`, unless another process of this run did it already."""
    site, record = shared / "docs-site", shared / "docs-site.json"
    with (shared / "docs-site.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not record.exists():
            results = _build(site)
            record.write_text(
                json.dumps({language: vars(built) for language, built in results.items()}),
                encoding="utf-8",
            )
        recorded = json.loads(record.read_text(encoding="utf-8"))
    return DocsBuild({language: Built(**built) for language, built in recorded.items()}, site)


def _build(site: Path) -> dict[str, Built]:
    """Both builds at once (separate processes, ~1 s each), each into a folder of its own (mkdocs
    empties its site folder first); then the other editions moved into the English one."""
    folders = {
        edition.language: site.with_name(f"docs-site-{edition.language}") for edition in EDITIONS
    }
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file"]
    running = {
        edition.language: subprocess.Popen(
            [*command, str(edition.config), "--site-dir", str(folders[edition.language])],
            cwd=REPO_ROOT,
            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for edition in EDITIONS
    }
    results = {}
    for language, process in running.items():
        output, _ = process.communicate(timeout=BUILD_SECONDS)
        results[language] = Built(process.returncode, output)
    if folders[ENGLISH.language].exists():
        shutil.move(folders[ENGLISH.language], site)
    else:  # the failure is in results; the other editions still land where they belong
        site.mkdir()
    for edition in EDITIONS:
        if edition.folder and folders[edition.language].exists():
            shutil.move(folders[edition.language], site / edition.folder)
    return results
