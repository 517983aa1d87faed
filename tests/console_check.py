"""Check a console block shown on a docs page against what a real server printed.

Console output on a page lives in `docs/console/NAME.txt` and is included with snippets, so the
page and this check read the same file. Ports, pids, task ids and times differ on every run, so
both sides are normalised before comparing; the block's lines must then appear in the server's
console in the same order (lines the page leaves out, such as startup noise, may sit between).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

DOCS_CONSOLE = Path(__file__).resolve().parent.parent / "docs" / "console"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NUMBER = re.compile(r"\d+(\.\d+)?")


def normalise(line: str) -> str:
    """Blank out what changes between runs: ids first (they contain digits), then numbers."""
    return NUMBER.sub("N", UUID.sub("ID", line.rstrip()))


def console_block(name: str) -> list[str]:
    """The lines of docs/console/NAME.txt (blank lines are layout, not output)."""
    text = (DOCS_CONSOLE / f"{name}.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


def missing_from_console(expected: Iterable[str], printed: Iterable[str]) -> list[str]:
    """The expected lines not found, in order, in what was printed (empty when all match)."""
    remaining = iter([normalise(line) for line in printed])
    missing = []
    for line in expected:
        wanted = normalise(line)
        if not any(wanted == seen for seen in remaining):
            missing.append(line)
            break  # the iterator is spent; later lines cannot be placed in order
    return missing


def assert_console_matches(name: str, printed: Iterable[str]) -> None:
    """Fail, showing both sides, unless docs/console/NAME.txt appears in order in `printed`."""
    printed = list(printed)
    missing = missing_from_console(console_block(name), printed)
    assert not missing, (
        f"docs/console/{name}.txt line {missing[0]!r} not found in order in the server console:\n"
        + "\n".join(printed)
    )
