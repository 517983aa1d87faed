"""A visit to a built docs page in Chromium: what a reader at 1280 px would see on it.

The built site is served from a thread on 127.0.0.1 (`serve_site`); tests/chromium.py opens the
browser. `visit_page` loads a page once, waits for its diagrams, takes a screenshot and collects
what the browser checks look at into a `Visit`; then, in each colour scheme, it runs axe-core
(tests/accessibility.py) and reads the colours of every listing's text. The JavaScript it runs
in the page lives beside this file, one expression per file, in page_scripts/.
"""

from __future__ import annotations

import base64
import functools
import http.server
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.accessibility import CodeToken, Violation, axe_violations
from tests.chromium import VIEWPORT, Browser
from tests.docs_build import ENGLISH, Edition, site_path
from tests.docs_pages import mermaid_sources
from uvicorn_harness.server import REPO_ROOT, wait_until

PAGE_SCRIPTS = Path(__file__).resolve().parent / "page_scripts"
RENDER_SECONDS = 15.0
# Screenshots of every page, at VIEWPORT's width, land here so a reviewer can look (gitignored).
SCREENSHOTS = REPO_ROOT / ".pytest_screenshots"


def page_script(name: str) -> str:
    """The JavaScript of page_scripts/NAME.js, for `page.evaluate` or an init script."""
    return (PAGE_SCRIPTS / f"{name}.js").read_text(encoding="utf-8")


# The site's two colour schemes (mkdocs.yml's palette), light first, as a page opens.
SCHEMES = ("default", "slate")
# Rules beyond WCAG's tags that every page passes (tests/accessibility.py): the search dialog's
# name, no two landmarks alike (material's copy buttons came in unnamed <nav>s), no table header
# cell without a name.
DOCS_AXE_RULES = ("aria-dialog-name", "landmark-unique", "empty-table-header")
# The rules that read colours, all a scheme changes (material's toggle sets only the body's
# data-md-color-* attributes): the light scheme is checked for every rule, the dark one for
# these, outside the listings, whose colours the listings' own check reads in both schemes
# (page_scripts/code_token_colours.js: every token, highlighted or not, collapsed or not).
COLOUR_RULES = ("color-contrast", "link-in-text-block")
LISTINGS = ("div.highlight",)
# What a collapsed block (`???`) hides, no reader sees and axe would skip; left out up front, it
# spares axe working out that ~8,000 nodes are hidden (a third of its run on stage 6's page).
COLLAPSED = ("details:not([open]) > :not(summary)",)
# Dark screenshots too (`SCREENSHOTS=both`): to look at the dark scheme; each costs about as
# much as the light one.
DARK_SCREENSHOTS = os.environ.get("SCREENSHOTS") == "both"
# material fades colours over 0.25 s when the scheme changes; axe reads colours at once, and
# mid-fade they are neither scheme's. Without transitions the switch is done at once.
NO_TRANSITIONS = "*, *::before, *::after { transition: none !important; }"

# mkdocs-material draws each diagram in a closed shadow root; this init script opens it, so the
# checks can measure the diagram's text from a page script (rendering unchanged).
OPEN_SHADOW_ROOTS = page_script("open_shadow_roots")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output clean; requests are checked in the browser instead."""


@contextmanager
def serve_site(folder: Path) -> Iterator[str]:
    """A built site served on 127.0.0.1 from a thread (a static site needs nothing more)."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            thread.join()


@dataclass(frozen=True)
class InScheme:
    """What the page shows in one colour scheme."""

    violations: list[Violation]  # what axe-core finds wrong (tests/accessibility.py)
    code_tokens: list[CodeToken]  # every colour a code token is drawn in, and on what


@dataclass
class Visit:
    """What one visit to a page found; the checks share it, so each page loads once."""

    height: int
    screenshot: Path
    scrolling_listings: list[str]
    page_scrolls_sideways: bool
    copy_buttons_over_code: list[str]
    diagram_text_sizes: list[dict[str, Any]]
    chart_widths: list[dict[str, Any]]  # each chart's "path" on the site, drawn "width" in px
    images_not_loaded: list[str]
    broken_table_code: list[str]
    code_text: str
    diagram_texts: list[str]
    heading_fonts: list[str]
    language: str
    switcher: dict[str, str]  # language -> where the header's language switcher leads
    schemes: dict[str, InScheme]  # by colour scheme: material's "default" (light), "slate"
    outside_requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def open_page(browser: Browser, site_url: str, page: str, edition: Edition = ENGLISH) -> list[str]:
    """Load a page and wait for its diagrams; the text of each rendered diagram."""
    browser.outside_requests.clear()
    browser.errors.clear()
    response = browser.page.goto(f"{site_url}/{edition.folder}{site_path(page)}")
    assert response is not None and response.ok
    where = f"{edition.language}/{page}"
    return wait_for_rendered_diagrams(browser, len(mermaid_sources(page, edition)), where)


def wait_for_rendered_diagrams(browser: Browser, count: int, page: str) -> list[str]:
    """The texts of the page's rendered diagrams, once all `count` of them are drawn."""
    rendered_texts = page_script("rendered_diagram_texts")
    if count == 0:
        assert not browser.page.evaluate(rendered_texts)
        return []

    def all_drawn_or_failed() -> bool:
        # A diagram that does not parse raises in the page instead: stop waiting, report it.
        drawn = browser.page.evaluate(rendered_texts)
        return len(drawn) >= count or bool(browser.errors)

    wait_until(
        all_drawn_or_failed, RENDER_SECONDS, f"{count} rendered mermaid diagram(s) on {page}"
    )
    assert not browser.errors, f"script errors on {page}: {browser.errors}"
    texts: list[str] = browser.page.evaluate(rendered_texts)
    return texts


def visit_page(browser: Browser, site_url: str, edition: Edition, page: str) -> Visit:
    """Open a page, screenshot it, and collect everything the browser checks look at."""
    diagram_texts = open_page(browser, site_url, page, edition)
    browser.page.wait_for_load_state("load")  # every <img> has loaded or failed by now
    SCREENSHOTS.mkdir(exist_ok=True)
    name = page.removesuffix(".md")
    screenshot = SCREENSHOTS / f"{edition.folder.replace('/', '-')}{name}.png"
    take_screenshot(browser, screenshot)
    evaluate = browser.page.evaluate
    # textContent, not innerText: code in a tab that is not selected is hidden but there.
    code = "\n".join(browser.page.locator(".highlight code").all_text_contents())
    return Visit(
        height=evaluate("document.documentElement.scrollHeight"),
        screenshot=screenshot,
        scrolling_listings=evaluate(page_script("scrolling_listings")),
        page_scrolls_sideways=evaluate(page_script("page_scrolls_sideways")),
        copy_buttons_over_code=evaluate(page_script("copy_buttons_over_code")),
        diagram_text_sizes=evaluate(page_script("diagram_text_sizes")),
        chart_widths=evaluate(page_script("chart_widths")),
        images_not_loaded=evaluate(page_script("images_not_loaded")),
        broken_table_code=evaluate(page_script("broken_table_code")),
        code_text=code,
        diagram_texts=diagram_texts,
        heading_fonts=fonts_drawing(browser, "article h1"),
        language=evaluate("document.documentElement.lang"),
        switcher=dict(evaluate(page_script("switcher_links"))),
        schemes=check_both_schemes(browser, screenshot),
        outside_requests=list(browser.outside_requests),
        errors=list(browser.errors),
    )


def check_both_schemes(browser: Browser, screenshot: Path) -> dict[str, InScheme]:
    """axe-core and the listings' colours in each scheme (and the dark screenshot, if asked)."""
    page = browser.page
    page.add_style_tag(content=NO_TRANSITIONS)
    found = {}
    for scheme in SCHEMES:
        show_scheme(browser, scheme)
        if scheme == SCHEMES[0]:
            violations = axe_violations(page, DOCS_AXE_RULES, exclude=COLLAPSED)
        else:
            if DARK_SCREENSHOTS:
                take_screenshot(browser, screenshot.with_name(f"{screenshot.stem}-dark.png"))
            violations = axe_violations(page, only=COLOUR_RULES, exclude=COLLAPSED + LISTINGS)
        tokens = [CodeToken(**token) for token in page.evaluate(page_script("code_token_colours"))]
        found[scheme] = InScheme(violations, tokens)
    return found


def show_scheme(browser: Browser, scheme: str) -> None:
    """Show the page in `scheme` as material's header toggle does: the palette entry's colour
    attributes on the body. Unlike a click, nothing is stored, so the next page opens light."""
    applied = browser.page.evaluate(page_script("show_scheme"), scheme)
    assert applied, f"the header's toggle has no {scheme!r} scheme"


def fonts_drawing(browser: Browser, selector: str) -> list[str]:
    """The fonts Chromium drew an element's text with (DevTools' platform fonts)."""
    document = browser.cdp.send("DOM.getDocument", {"depth": 0})
    node = browser.cdp.send(
        "DOM.querySelector", {"nodeId": document["root"]["nodeId"], "selector": selector}
    )
    browser.cdp.send("CSS.enable")
    fonts = browser.cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})
    return [font["familyName"] for font in fonts["fonts"] if font["glyphCount"]]


def take_screenshot(browser: Browser, path: Path) -> None:
    """The whole page as it reads at VIEWPORT's width, as a PNG.

    Straight from the DevTools protocol, told to favour speed over file size: a page 10,000 px
    tall takes half the time Playwright's full-page screenshot takes.
    """
    height = browser.page.evaluate("document.documentElement.scrollHeight")
    shot = browser.cdp.send(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "optimizeForSpeed": True,
            "clip": {"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height, "scale": 1},
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))


def fonts_with_chinese_glyphs() -> set[str]:
    """Font families fontconfig says cover Chinese (empty without fontconfig or such a font)."""
    if shutil.which("fc-list") is None:
        return set()
    listed = subprocess.run(
        ["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False
    ).stdout
    return {family.strip() for line in listed.splitlines() for family in line.split(",")}
