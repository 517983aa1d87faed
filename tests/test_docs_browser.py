"""Every page of both editions, as Chromium draws it at 1280 px.

Each page loads once (the `visit` fixture keeps what tests/docs_browser.py found on it) and
several checks read that visit: nothing scrolls sideways, diagrams and charts are legible, the
code the page includes is shown, images load, nothing is requested from outside 127.0.0.1, the
language switcher leads to the same page in the other edition, and axe-core finds the page
meets WCAG 2.1 AA in both colour schemes. Without /usr/bin/chromium
these checks skip and say how to get it (tests/chromium.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.accessibility import MIN_TEXT_CONTRAST, failing, luminance, report
from tests.chart_svg import ChartSvg
from tests.chromium import VIEWPORT, Browser, local_browser
from tests.docs_browser import (
    DOCS_AXE_RULES,
    OPEN_SHADOW_ROOTS,
    Visit,
    fonts_with_chinese_glyphs,
    open_page,
    page_script,
    serve_site,
    show_scheme,
    visit_page,
)
from tests.docs_build import CHINESE, EDITIONS, ENGLISH, DocsBuild, Edition, site_path
from tests.docs_pages import (
    MERMAID_PARTICIPANT,
    OWN_STAGE_PAGES,
    STAGE_FILE,
    images,
    included_code,
    mermaid_sources,
    nav_pages,
    pages_of,
)

MIN_DIAGRAM_TEXT_PX = 12.0
# Stage pages lead with what changed; the whole files sit in collapsed blocks. The aim is about
# 6,000 px at 1280 px (details closed); stage 4, the longest, is about 6,600. A page taller
# than this has become a wall again (with every file open, stage 4's page is 15,458 px).
MAX_STAGE_PAGE_PX = 6800
# An arrowhead on the dark scheme must be light: relative luminance of its fill (0 black, 1 white).
MIN_DARK_ARROWHEAD_LUMINANCE = 0.4


@pytest.fixture(scope="module")
def site_url(docs_build: DocsBuild) -> Iterator[str]:
    """The built site, both editions, served on 127.0.0.1."""
    failed = [language for language, result in docs_build.results.items() if result.returncode]
    assert not failed, f"the site did not build: {failed}"
    with serve_site(docs_build.site) as url:
        yield url


@pytest.fixture(scope="module")
def browser(site_url: str) -> Iterator[Browser]:
    # Nothing may leave 127.0.0.1: the mermaid script and fonts must come from the site.
    # mkdocs-material draws each diagram in a closed shadow root; OPEN_SHADOW_ROOTS opens it, so
    # the checks below can measure the diagram's text from a page script (rendering unchanged).
    with local_browser(site_url, init_script=OPEN_SHADOW_ROOTS) as browser:
        yield browser


@pytest.fixture(scope="module")
def visit(browser: Browser, site_url: str) -> Callable[[Edition, str], Visit]:
    """Opens a page once (the first check to ask) and keeps what it found for the others."""
    visits: dict[tuple[str, str], Visit] = {}
    browser.cdp.send("DOM.enable")

    def visited(edition: Edition, page: str) -> Visit:
        key = (edition.language, page)
        if key not in visits:
            visits[key] = visit_page(browser, site_url, edition, page)
        return visits[key]

    return visited


def smallest_chart_text_px(edition: Edition, url_path: str, width: float) -> float:
    """A chart's smallest text as drawn: its size in the SVG, times drawn width over viewBox."""
    relative = url_path.removeprefix("/").removeprefix(edition.folder)
    chart = ChartSvg.parse((edition.docs / Path(relative)).read_text(encoding="utf-8"))
    return min(text.size for text in chart.texts()) * width / chart.width


def _participants(source: str) -> list[str]:
    names = []
    for line in source.splitlines():
        if match := MERMAID_PARTICIPANT.match(line):
            names.append((match.group("label") or match.group("name")).strip())
    return names


@pytest.mark.parametrize(("edition", "page"), pages_of(nav_pages))
def test_page_reads_at_1280_px_in_chromium(
    edition: Edition, page: str, visit: Callable[[Edition, str], Visit], site_url: str
) -> None:
    where = f"{edition.language}/{page}"
    seen = visit(edition, page)
    print(f"{where}: {seen.height} px tall at {VIEWPORT['width']} px, screenshot {seen.screenshot}")

    assert seen.scrolling_listings == [], f"{where}: listings scroll sideways"
    assert not seen.page_scrolls_sideways, f"{where}: the page scrolls sideways"
    assert seen.copy_buttons_over_code == [], f"{where}: copy button over code"
    for diagram in seen.diagram_text_sizes:
        assert diagram["smallest"] >= MIN_DIAGRAM_TEXT_PX, (
            f"{where}: diagram text drawn at {diagram['smallest']:.1f} px: {diagram['text']!r}"
        )
    charts_on_page = {image for image in images(page, edition) if image.endswith(".svg")}
    assert len(seen.chart_widths) == len(charts_on_page), f"{where}: {seen.chart_widths}"
    for chart in seen.chart_widths:
        smallest = smallest_chart_text_px(edition, chart["path"], chart["width"])
        assert smallest >= MIN_DIAGRAM_TEXT_PX, (
            f"{where}: {chart['path']} shows its smallest text at {smallest:.1f} px"
        )
    assert seen.images_not_loaded == [], f"{where}: images did not load"
    assert seen.broken_table_code == [], f"{where}: code broken in a table cell"
    homes = {other.language: f"{site_url}/{other.folder}" for other in EDITIONS}
    assert seen.switcher == homes, f"{where}: the language switcher"
    if STAGE_FILE.match(page.removesuffix(".md") + "/") and page in OWN_STAGE_PAGES:
        assert seen.height <= MAX_STAGE_PAGE_PX, f"{where} is {seen.height} px tall"
    assert not seen.outside_requests, f"requests left 127.0.0.1: {seen.outside_requests}"
    assert not seen.errors, f"script errors on {where}: {seen.errors}"


@pytest.mark.parametrize("page", nav_pages(CHINESE))
def test_chinese_page_is_drawn_in_a_chinese_font(
    page: str, visit: Callable[[Edition, str], Visit]
) -> None:
    # Without a font that has Chinese glyphs, Chromium draws boxes ("tofu"): .ci/run installs
    # Debian's fonts-noto-cjk next to chromium.
    chinese_fonts = fonts_with_chinese_glyphs()
    if not chinese_fonts:
        message = "no font with Chinese glyphs: apt-get install fonts-noto-cjk (as .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    seen = visit(CHINESE, page)
    assert seen.language == "zh", f"zh/{page}: <html lang={seen.language!r}>"
    assert chinese_fonts & set(seen.heading_fonts), (
        f"zh/{page}: the heading is drawn in {seen.heading_fonts}, none of which has Chinese glyphs"
    )


def test_mermaid_arrowheads_show_in_the_dark_scheme(browser: Browser, site_url: str) -> None:
    open_page(browser, site_url, "step1_blocking.md")
    show_scheme(browser, "slate")
    fills = browser.page.evaluate(page_script("arrowhead_fills"))
    assert fills, "no arrowheads found"
    for fill in fills:
        assert luminance(fill) >= MIN_DARK_ARROWHEAD_LUMINANCE, f"dark arrowhead: {fill}"


@pytest.mark.parametrize(("edition", "page"), pages_of(nav_pages))
def test_page_meets_wcag_21_aa_in_both_colour_schemes(
    edition: Edition, page: str, visit: Callable[[Edition, str], Visit]
) -> None:
    # axe-core's WCAG 2.1 A and AA rules, as the page reads in light and dark: no serious or
    # critical violation, and none at all of the best practices the site was made to pass.
    seen = visit(edition, page)
    broken = {
        scheme: failing(shown.violations, DOCS_AXE_RULES) for scheme, shown in seen.schemes.items()
    }
    for scheme, shown in seen.schemes.items():
        rules = ", ".join(f"{v.rule} ({v.impact})" for v in shown.violations) or "none"
        print(f"{edition.language}/{page} ({scheme}): axe-core finds {rules}")
    assert not any(broken.values()), "\n".join(
        report(f"{edition.language}/{page} ({scheme})", violations)
        for scheme, violations in broken.items()
        if violations
    )


@pytest.mark.parametrize(("edition", "page"), pages_of(nav_pages))
def test_every_code_token_reads_at_4_5_to_1_highlighted_or_not(
    edition: Edition, page: str, visit: Callable[[Edition, str], Visit]
) -> None:
    # The highlighted lines are the lesson. axe checks the code the page shows as it opens; this
    # checks every listing's colours, those in collapsed blocks and unselected tabs too.
    seen = visit(edition, page)
    faint = [
        f"{scheme}: {token}"
        for scheme, shown in seen.schemes.items()
        for token in shown.code_tokens
        if token.contrast < MIN_TEXT_CONTRAST
    ]
    assert not faint, f"{edition.language}/{page}: code under {MIN_TEXT_CONTRAST}:1\n" + "\n".join(
        faint
    )


@pytest.mark.parametrize(("edition", "page"), pages_of(nav_pages))
def test_page_renders_its_code_and_diagrams_in_chromium(
    edition: Edition, page: str, visit: Callable[[Edition, str], Visit]
) -> None:
    where = f"{edition.language}/{page}"
    seen = visit(edition, page)
    for block in included_code(page, edition):
        shown = [line for line in block.shown if line.strip()]
        assert shown[-1].strip() in seen.code_text, f"{block.path} is not shown on {where}"

    diagrams = mermaid_sources(page, edition)
    assert len(seen.diagram_texts) == len(diagrams), where
    for source, text in zip(diagrams, seen.diagram_texts, strict=True):
        assert "Syntax error" not in text
        for participant in _participants(source):
            assert participant in text, f"{participant!r} missing from the diagram on {where}"

    assert not seen.outside_requests, f"requests left 127.0.0.1: {seen.outside_requests}"
    assert not seen.errors, f"script errors on {where}: {seen.errors}"


@pytest.mark.parametrize(
    ("edition", "other"), [(ENGLISH, CHINESE), (CHINESE, ENGLISH)], ids=["en-to-zh", "zh-to-en"]
)
def test_language_switcher_keeps_the_reader_on_the_same_page_and_heading(
    edition: Edition, other: Edition, browser: Browser, site_url: str
) -> None:
    # docs/assets/javascripts/language-switcher.js: the same path in the other edition.
    page, heading = "step3_status.md", "#run-it"
    browser.page.goto(f"{site_url}/{edition.folder}{site_path(page)}{heading}")
    switch = browser.page.locator(f"a.md-select__link[hreflang={other.language}]")
    with browser.page.expect_navigation():
        switch.dispatch_event("click")
    assert browser.page.url == f"{site_url}/{other.folder}{site_path(page)}{heading}"
    assert browser.page.evaluate("document.documentElement.lang") == other.language
