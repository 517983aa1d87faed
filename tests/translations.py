"""Which English text each Chinese page translates, so a changed English section is noticed.

A section is a heading of the English page and the text under it, up to the next heading
(the text before the first heading is a section too). Each Chinese page, docs/zh/NAME.md,
records in its front matter a hash of every section of docs/NAME.md as it was when the
translation was last brought up to date:

    ---
    translates:
      "# Stage 3: status": 5d41402abc4b
      "## Run it": 7d793037a076
    ---

mkdocs and Zensical both read YAML front matter and ignore keys they do not know, so the record
is never shown. The hash is of the section's words (whitespace collapsed: a re-wrapped
paragraph is the same text); included files are named, not hashed, since both editions show
the same file. After updating a translation, stamp the page again:

    .venv/bin/python -m tests.translations stamp docs/zh/step3_status.md
    .venv/bin/python -m tests.translations check        # every page: what is out of date

tests/test_docs_translations.py fails, naming the page and the section, until then.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.docs_build import CHINESE, ENGLISH
from uvicorn_harness.server import REPO_ROOT

KEY = "translates"
FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?P<yaml>.*?\n)?---[ \t]*\n", re.S)
HEADING = re.compile(r"^(?P<marks>#{1,6})[ \t]+(?P<title>.+?)[ \t]*#*[ \t]*$")
FENCE = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})")
TOP = "(before the first heading)"
HASH_LENGTH = 12  # hex digits: enough to tell two versions of a section apart
STAMP_COMMAND = ".venv/bin/python -m tests.translations stamp"
# Above the record, for whoever opens the page: what it is and how to renew it.
COMMENT = (
    "# The English text this page translates (tests/translations.py); once updated: {command}\n"
)


def split_front_matter(text: str) -> tuple[dict[str, object], str]:
    """A page's YAML front matter (empty if none) and the Markdown after it."""
    match = FRONT_MATTER.match(text)
    if match is None:
        return {}, text
    meta = yaml.safe_load(match.group("yaml") or "") or {}
    if not isinstance(meta, dict):
        raise ValueError("the front matter is not a mapping")
    return meta, text[match.end() :]


def sections(markdown: str) -> dict[str, str]:
    """A page's sections by heading line (`## Run it`), in order, each with its text.

    Headings inside fenced code are code; a heading that repeats is numbered (`## Run it (2)`).
    """
    found: dict[str, list[str]] = {TOP: []}
    seen: Counter[str] = Counter()
    current, fence = TOP, ""
    for line in markdown.splitlines():
        opening = FENCE.match(line)
        if fence:
            if opening and opening.group("fence").startswith(fence):
                fence = ""
        elif opening:
            fence = opening.group("fence")
        elif heading := HEADING.match(line):
            name = f"{heading.group('marks')} {heading.group('title')}"
            seen[name] += 1
            current = name if seen[name] == 1 else f"{name} ({seen[name]})"
            found[current] = []
        found[current].append(line)
    if not "".join(found[TOP]).strip():
        del found[TOP]
    return {name: "\n".join(lines) for name, lines in found.items()}


def section_hash(text: str) -> str:
    words = " ".join(text.split())
    return hashlib.sha256(words.encode("utf-8")).hexdigest()[:HASH_LENGTH]


def english_hashes(english: Path) -> dict[str, str]:
    _, markdown = split_front_matter(english.read_text(encoding="utf-8"))
    return {name: section_hash(text) for name, text in sections(markdown).items()}


def english_page(chinese: Path) -> Path:
    """docs/zh/NAME.md translates docs/NAME.md."""
    return ENGLISH.docs / chinese.resolve().relative_to(CHINESE.docs)


@dataclass(frozen=True)
class Stale:
    """One English section whose Chinese translation is not known to be up to date."""

    section: str
    why: str  # "changed", "new" or "gone"

    def __str__(self) -> str:
        what = {
            "changed": "changed since the translation was stamped",
            "new": "is new: not translated yet",
            "gone": "is no longer in the English page (removed or renamed)",
        }[self.why]
        return f"the English section {self.section!r} {what}"


def stale_sections(chinese: Path, english: Path | None = None) -> list[Stale]:
    """What the Chinese page's record says differs from its English page today."""
    meta, _ = split_front_matter(chinese.read_text(encoding="utf-8"))
    stamped = meta.get(KEY) or {}
    if not isinstance(stamped, dict):
        raise ValueError(f"{chinese}: `{KEY}` in the front matter is not a mapping")
    current = english_hashes(english or english_page(chinese))
    stale = [
        Stale(name, "changed" if name in stamped else "new")
        for name, digest in current.items()
        if stamped.get(name) != digest
    ]
    return stale + [Stale(name, "gone") for name in stamped if name not in current]


def stamp(chinese: Path, english: Path | None = None) -> None:
    """Record the English page's sections as they are now in the Chinese page's front matter."""
    text = chinese.read_text(encoding="utf-8")
    meta, markdown = split_front_matter(text)
    meta[KEY] = english_hashes(english or english_page(chinese))
    others = {key: value for key, value in meta.items() if key != KEY}
    body = yaml.safe_dump(others, allow_unicode=True, sort_keys=False) if others else ""
    body += COMMENT.format(command=f"{STAMP_COMMAND} docs/zh/{chinese.name}")
    body += yaml.safe_dump({KEY: meta[KEY]}, allow_unicode=True, sort_keys=False, width=200)
    chinese.write_text(f"---\n{body}---\n{markdown}", encoding="utf-8")


def display(path: Path) -> str:
    """A path as the reader types it: relative to the repository, where it is inside it."""
    resolved = path.resolve()
    return str(resolved.relative_to(REPO_ROOT)) if resolved.is_relative_to(REPO_ROOT) else str(path)


def how_to_fix(chinese: Path, stale: list[Stale]) -> str:
    """The failure message: the page, each section, and the one command to run afterwards."""
    english = (
        display(english_page(chinese)) if chinese.resolve().is_relative_to(CHINESE.docs) else ""
    )
    lines = [f"{display(chinese)} is out of date with {english or 'its English page'}:"]
    lines += [f"  - {item}" for item in stale]
    lines.append(
        f"Update the Chinese text of those sections, then run: {STAMP_COMMAND} {display(chinese)}"
    )
    return "\n".join(lines)


def chinese_pages() -> list[Path]:
    return sorted(CHINESE.docs.glob("*.md"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.translations", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    stamping = commands.add_parser(
        "stamp", help="record that these pages' translations are up to date"
    )
    stamping.add_argument(
        "pages", nargs="+", type=Path, help="Chinese pages, e.g. docs/zh/step5_queue.md"
    )
    commands.add_parser("check", help="list the Chinese pages whose English text has changed")
    arguments = parser.parse_args(argv)
    if arguments.command == "stamp":
        for page in arguments.pages:
            stamp(page)
            print(f"stamped {display(page)} from {display(english_page(page))}")
        return 0
    out_of_date = [(page, stale) for page in chinese_pages() if (stale := stale_sections(page))]
    for page, stale in out_of_date:
        print(how_to_fix(page, stale), end="\n\n")
    if not out_of_date:
        print(f"all {len(chinese_pages())} Chinese pages are up to date with their English pages")
    return 1 if out_of_date else 0


if __name__ == "__main__":
    sys.exit(main())
