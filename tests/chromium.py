"""Debian's Chromium under Playwright, as every browser test opens it (no browser download).

Headless, with no traffic of Chromium's own, at the width the site is read at; every request to
anything but the servers under test is refused and recorded, and every script error recorded,
so a test can assert that the page needed nothing from outside 127.0.0.1.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The width the site is read at: no sideways scrolling, legible diagrams.
VIEWPORT = {"width": 1280, "height": 800}


@dataclass
class Browser:
    page: Any  # playwright.sync_api.Page
    cdp: Any  # playwright.sync_api.CDPSession, for screenshots through DevTools
    outside_requests: list[str]  # what the page asked of anything but the servers under test
    errors: list[str]  # the page's script errors


def require_chromium() -> None:
    """Skip the test where Chromium is missing; under CI (which installs it) fail instead."""
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} not found, but CI should have installed it (.ci/run)")
    pytest.skip(
        f"{CHROMIUM} not found: install Debian's Chromium (`apt-get install chromium`, "
        "as .ci/run does) to run the browser checks"
    )


@contextmanager
def local_browser(*served: str, init_script: str | None = None) -> Iterator[Browser]:
    """One Chromium page that may load only URLs starting with one of `served`."""
    require_chromium()
    from playwright.sync_api import Route, sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = chromium.new_page(viewport=VIEWPORT)
            if init_script is not None:
                page.add_init_script(init_script)
            browser = Browser(page, page.context.new_cdp_session(page), [], [])

            def only_served(route: Route) -> None:
                if route.request.url.startswith(served):
                    route.continue_()
                else:
                    browser.outside_requests.append(route.request.url)
                    route.abort()

            page.route("**/*", only_served)
            page.on("pageerror", lambda error: browser.errors.append(str(error)))
            yield browser
        finally:
            chromium.close()
