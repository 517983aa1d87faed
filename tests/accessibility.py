"""axe-core, Deque's accessibility engine, run in a page that Chromium (tests/chromium.py) shows.

The engine is vendored beside this file (tests/vendor/, with its MPL-2.0 licence and the
licences of what it bundles) and injected into the page under test only: the docs site does
not ship it. To update it, take the package from npm and copy its one file:
    npm pack axe-core@VERSION && tar xzf axe-core-VERSION.tgz package/axe.min.js
then rename it tests/vendor/axe-core-VERSION.min.js and change AXE_CORE below.

A run checks the WCAG 2.1 A and AA rules, as axe tags them, and any rule named on top (axe's
best practices: landmarks, the search dialog's name). A serious or critical violation fails;
so does any violation of a rule the caller names on top, at any impact, since those are named
because the page has been made to pass them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
AXE_CORE = HERE / "vendor" / "axe-core-4.14.1.min.js"
# The run and what it sends back (page_scripts/, beside the docs checks' scripts).
AXE_RUN = (HERE / "page_scripts" / "axe_violations.js").read_text(encoding="utf-8")
WCAG_21_AA = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
BLOCKING_IMPACTS = frozenset({"serious", "critical"})
EXAMPLES = 5  # nodes reported per violated rule: enough to find the pattern
# WCAG 2.1 AA (1.4.3): text at least 4.5:1 against its background.
MIN_TEXT_CONTRAST = 4.5

RGBA = tuple[float, float, float, float]


@dataclass(frozen=True)
class Violation:
    """One axe rule the page breaks, with a few of the nodes that break it."""

    rule: str
    impact: str
    help: str
    count: int
    examples: list[dict[str, str]]  # {"target": CSS selector, "summary": what to fix}

    def __str__(self) -> str:
        lines = [f"{self.rule} ({self.impact}, {self.count} nodes): {self.help}"]
        lines += [f"    {node['target']}: {node['summary']}" for node in self.examples]
        return "\n".join(lines)


def axe_violations(
    page: Any,
    also: tuple[str, ...] = (),
    only: tuple[str, ...] | None = None,
    exclude: tuple[str, ...] = (),
) -> list[Violation]:
    """axe's WCAG 2.1 A/AA rules and the rules in `also` (or the rules in `only`), on `page`
    as it is drawn now, outside the elements the selectors in `exclude` match."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_CORE))
    options = {
        "tags": list(WCAG_21_AA),
        "also": [] if only else list(also),
        "only": list(only) if only else None,
        "exclude": list(exclude),
        "examples": EXAMPLES,
    }
    return [Violation(**violation) for violation in page.evaluate(AXE_RUN, options)]


def failing(violations: list[Violation], also: tuple[str, ...] = ()) -> list[Violation]:
    """The violations that fail a page: serious or critical ones, and any of the rules in `also`."""
    return [v for v in violations if v.impact in BLOCKING_IMPACTS or v.rule in also]


def report(where: str, violations: list[Violation]) -> str:
    """Readable in a failed assertion: one rule a paragraph, a few nodes under it."""
    return f"{where}: axe-core finds\n" + "\n".join(map(str, violations))


def rgba(css_colour: str) -> RGBA:
    """A computed `rgb(...)`/`rgba(...)` colour as channels 0-255 and an alpha 0-1."""
    parts = [float(part) for part in re.findall(r"[\d.]+", css_colour)]
    return (parts[0], parts[1], parts[2], parts[3] if len(parts) > 3 else 1.0)


def over(top: RGBA, bottom: RGBA) -> RGBA:
    """`top` drawn over an opaque `bottom` (alpha compositing, as the browser draws it)."""
    alpha = top[3]
    red, green, blue = (
        t * alpha + b * (1 - alpha) for t, b in zip(top[:3], bottom[:3], strict=True)
    )
    return (red, green, blue, 1.0)


def drawn(colour: str, backgrounds: list[str]) -> tuple[RGBA, RGBA]:
    """A colour and the backgrounds under it (nearest first) as drawn: opaque, on white at the
    bottom (the canvas)."""
    under: RGBA = (255.0, 255.0, 255.0, 1.0)
    for background in reversed(backgrounds):
        under = over(rgba(background), under)
    return over(rgba(colour), under), under


def luminance(colour: str | RGBA) -> float:
    """Relative luminance (WCAG) of an `rgb(...)`/`rgba(...)` computed colour or channels."""
    channels = rgba(colour) if isinstance(colour, str) else colour

    def linear(channel: float) -> float:
        channel /= 255
        return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(channel) for channel in channels[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first: RGBA, second: RGBA) -> float:
    """WCAG's contrast ratio of two opaque colours, 1 to 21."""
    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@dataclass(frozen=True)
class CodeToken:
    """One colour a code token is drawn in, where (page_scripts/code_token_colours.js)."""

    token: str  # Pygments' class: k, nb, c1, ...
    colour: str
    backgrounds: list[str]  # computed background colours under it, nearest first
    highlighted: bool  # on a highlighted line (.hll)
    text: str  # an example

    @property
    def contrast(self) -> float:
        return contrast(*drawn(self.colour, self.backgrounds))

    def __str__(self) -> str:
        line = "highlighted line" if self.highlighted else "line"
        return f".{self.token} {self.text!r} on a {line}: {self.contrast:.2f}:1 ({self.colour})"
