"""Stage 6 in a browser: the live page at / and Flower, Celery's dashboard, in Debian's Chromium.

The page is served as the docs page says to run it, `python -m step6_progress` (the API and a
worker in one console), and Flower by its one command, `celery ... flower`, on the same embedded
queue; Chromium may talk to nothing but them. The page is used with the mouse and with the
keyboard alone, and axe-core (tests/accessibility.py) checks it against WCAG 2.1 AA and its
landmark rules. The docs page's screenshot
comes from here: a run writes it to .pytest_screenshots/, and with STAGE6_SCREENSHOT=write (or
when the docs have none yet) to docs/step6/, where the page shows it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import struct
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.accessibility import axe_violations, contrast, drawn, failing, report
from tests.chromium import VIEWPORT, Browser, local_browser
from tests.docs_browser import page_script
from tests.step5_deployments import embedded_env
from uvicorn_harness.server import REPO_ROOT, RunningServer, StartServer, wait_until

STAGE = "step6_progress"
# Long enough to see the bars move and cancel a job mid-run: ten steps of 0.2 s.
JOB_SECONDS = 2.0
# The keyboard's job, on a deployment of its own: ten steps of 3 s, so the keys reach Cancel long
# before it could end, however loaded the machine (under load the keys can take long enough for
# a 2 s job to reach its last step and complete). Cancelled, it stops at its next step.
KEYBOARD_JOB_SECONDS = 30.0
PAGE_WAIT_MS = 20_000  # every wait in the browser has this deadline
SCREENSHOTS = REPO_ROOT / ".pytest_screenshots"
MARGIN_PX = 24  # below the table, in the docs' picture
DOCS_SCREENSHOT = REPO_ROOT / "docs" / "step6" / "live-page.png"
WRITE_SCREENSHOT = os.environ.get("STAGE6_SCREENSHOT") == "write"
# axe's landmark rules, best practices beyond WCAG's tags that the page passes: everything sits
# in a landmark, and there is one main.
LANDMARK_RULES = ("region", "landmark-one-main")
# WCAG 2.1 AA (1.4.11, 2.4.7): a focus ring at least 3:1 against what is around it.
MIN_FOCUS_CONTRAST = 3.0
FLOWER_READY = "Visit me at"
WORKER_READY = " ready."  # Celery's line once the worker takes jobs


@dataclass(frozen=True)
class Deployment:
    api: RunningServer  # `python -m step6_progress`: its worker prints into the same console
    flower_url: str
    long_jobs: RunningServer  # the same command, with KEYBOARD_JOB_SECONDS jobs


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_flower(serve: StartServer, env: dict[str, str], port: int) -> RunningServer:
    """The one command the docs page gives, on 127.0.0.1 and a free port."""
    command = [sys.executable, "-m", "celery", "-A", f"{STAGE}.tasks", "flower"]
    command += ["--address=127.0.0.1", f"--port={port}"]
    return serve(command=command, env=env, ready_line=FLOWER_READY, serves_http=False)


@pytest.fixture(scope="module")
def deployment(serve: StartServer) -> Deployment:
    env = {**embedded_env(), "TASK_SECONDS": str(JOB_SECONDS)}
    port = free_port()
    # Four worker processes: the page's three jobs and Flower's run at once.
    stage_env = {**env, "PORT": "0", "WORKER_CONCURRENCY": "4"}
    long_env = {**embedded_env(), "TASK_SECONDS": str(KEYBOARD_JOB_SECONDS), "PORT": "0"}
    long_env["WORKER_CONCURRENCY"] = "1"
    # Stopped with SIGKILL (the whole group): no test here waits for a warm shutdown.
    command = [sys.executable, "-m", STAGE]
    with ThreadPoolExecutor(3) as starting:
        flower = starting.submit(start_flower, serve, env, port)
        api = starting.submit(serve, command=command, env=stage_env, stop_signal=signal.SIGKILL)
        long_jobs = starting.submit(
            serve, command=command, env=long_env, stop_signal=signal.SIGKILL
        )
        flower.result()
    for started in (api.result(), long_jobs.result()):
        started.wait_for_line(lambda text: text.endswith(WORKER_READY))
    return Deployment(api.result(), f"http://127.0.0.1:{port}", long_jobs.result())


@pytest.fixture(scope="module")
def browser(deployment: Deployment) -> Iterator[Browser]:
    # No request may leave 127.0.0.1: no CDN, no fonts, no analytics.
    served = (deployment.api.url, deployment.flower_url, deployment.long_jobs.url)
    with local_browser(*served) as browser:
        browser.page.set_default_timeout(PAGE_WAIT_MS)
        yield browser


def row_states(browser: Browser) -> list[str]:
    """Each row's state, oldest job first (the page puts the newest on top)."""
    states: list[str] = browser.page.eval_on_selector_all(
        "#rows tr", "rows => rows.map(row => row.dataset.status).reverse()"
    )
    return states


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's header (IHDR, right after the 8-byte signature)."""
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


def keep_screenshot(browser: Browser, name: str, down_to: str | None = None) -> Path:
    """A screenshot at the viewport's width, cut below the element `down_to` if given."""
    SCREENSHOTS.mkdir(exist_ok=True)
    shot = SCREENSHOTS / name
    if down_to is None:
        browser.page.screenshot(path=str(shot))
    else:
        box = browser.page.locator(down_to).bounding_box()
        bottom = round(box["y"] + box["height"] + MARGIN_PX)
        clip = {"x": 0, "y": 0, "width": VIEWPORT["width"], "height": bottom}
        browser.page.screenshot(path=str(shot), clip=clip)
    return shot


def test_the_live_page_shows_three_jobs_move_and_one_cancelled(
    browser: Browser, deployment: Deployment
) -> None:
    page = browser.page
    page.goto(deployment.api.url + "/")
    for _ in range(3):
        page.click("#start")
    page.wait_for_function("document.querySelectorAll('#rows tr').length === 3")
    # Every bar moves: each job has done two steps, as its stream reported them.
    page.wait_for_function(
        "[...document.querySelectorAll('#rows progress')].every(bar => bar.value >= 2)"
    )
    # Cancel the middle one (rows: newest on top).
    middle = page.locator("#rows tr").nth(1)
    middle.get_by_role("button", name="Cancel").click()
    page.wait_for_function(
        "document.querySelectorAll('#rows tr')[1].dataset.status === 'cancelled'"
    )
    assert middle.get_by_role("button", name="Cancel").get_attribute("aria-disabled") == "true"
    shot = keep_screenshot(browser, "step6-live-page.png", down_to=".jobs")
    if WRITE_SCREENSHOT or not DOCS_SCREENSHOT.exists():
        DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, DOCS_SCREENSHOT)
    page.wait_for_function(
        "[...document.querySelectorAll('#rows tr')]"
        ".filter(row => row.dataset.status === 'completed').length === 2"
    )
    assert row_states(browser) == ["completed", "cancelled", "completed"]
    cancelled_steps = middle.locator("td.steps").inner_text()
    assert cancelled_steps != "10/10", cancelled_steps
    assert not browser.outside_requests, browser.outside_requests
    assert not browser.errors, browser.errors


@dataclass(frozen=True)
class Focus:
    """The focused element, and how its focus ring is drawn (page_scripts/focus_indicator.js)."""

    name: str  # its accessible name: aria-label, or its text
    focus_visible: bool  # :focus-visible, as the keyboard (not the mouse) sets it
    outline_style: str
    outline_width: float  # px
    ring_contrast: float  # the outline's colour against the background under the element

    @property
    def is_visible(self) -> bool:
        drawn_ring = self.outline_style not in ("none", "hidden") and self.outline_width >= 2
        return self.focus_visible and drawn_ring and self.ring_contrast >= MIN_FOCUS_CONTRAST


def focused(browser: Browser) -> Focus:
    found = browser.page.evaluate(page_script("focus_indicator"))
    ring, background = drawn(found["outlineColour"], found["backgrounds"])
    return Focus(
        name=found["name"],
        focus_visible=found["focusVisible"],
        outline_style=found["outlineStyle"],
        outline_width=found["outlineWidth"],
        ring_contrast=contrast(ring, background),
    )


def test_the_keyboard_alone_starts_a_job_and_cancels_it(
    browser: Browser, deployment: Deployment
) -> None:
    page = browser.page
    page.goto(deployment.long_jobs.url + "/")
    page.keyboard.press("Tab")
    start = focused(browser)
    assert start.name == "Start a job" and start.is_visible, start
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelectorAll('#rows tr').length === 1")
    task_id = page.eval_on_selector("#rows tr", "row => row.dataset.id")
    page.keyboard.press("Tab")
    cancel = focused(browser)
    assert cancel.name == f"Cancel job {task_id[:8]}" and cancel.is_visible, cancel
    page.keyboard.press("Enter")
    # The real API says so, then the row; the keyboard's place stays on the button.
    api = deployment.long_jobs.http
    statuses: list[str] = []

    def cancelled() -> bool:
        statuses.append(api.get(f"/tasks/{task_id}").json()["status"])
        return statuses[-1] == "cancelled"

    try:
        # One step and more, well short of the job's end: cancelled, not run to completion.
        wait_until(cancelled, KEYBOARD_JOB_SECONDS / 3, f"job {task_id} cancelled")
    except TimeoutError as timeout:
        raise AssertionError(f"job {task_id}: the API said {sorted(set(statuses))}") from timeout
    page.wait_for_function("document.querySelector('#rows tr').dataset.status === 'cancelled'")
    after = focused(browser)
    assert after.name == cancel.name and after.is_visible, after
    keep_screenshot(browser, "step6-live-page-keyboard.png", down_to=".jobs")
    assert not browser.outside_requests, browser.outside_requests
    assert not browser.errors, browser.errors


def test_the_live_page_meets_wcag_21_aa_in_its_landmarks(
    browser: Browser, deployment: Deployment
) -> None:
    page = browser.page
    page.goto(deployment.api.url + "/")
    # Rows in several states, for their colours: one cancelled, one queued or running.
    for _ in range(2):
        page.click("#start")
    page.wait_for_function("document.querySelectorAll('#rows tr').length === 2")
    page.locator("#rows tr").nth(1).get_by_role("button", name="Cancel").click()
    page.wait_for_function(
        "document.querySelectorAll('#rows tr')[1].dataset.status === 'cancelled'"
    )
    violations = axe_violations(page, also=LANDMARK_RULES)
    print("axe-core finds", ", ".join(f"{v.rule} ({v.impact})" for v in violations) or "nothing")
    broken = failing(violations, LANDMARK_RULES)
    assert not broken, report("the live page", broken)


def test_the_docs_screenshot_is_this_test_s_picture() -> None:
    # The committed picture is one this module took: the viewport's width, cut below 3 rows.
    width, height = png_size(DOCS_SCREENSHOT)
    assert width == VIEWPORT["width"] and 150 < height < 400, (width, height)


FIFTY = 50


def test_the_page_stays_readable_with_50_jobs(browser: Browser, deployment: Deployment) -> None:
    page = browser.page
    page.goto(deployment.api.url + "/")
    page.evaluate(
        f"async () => {{ for (let n = 0; n < {FIFTY}; n++) {{ "
        "document.getElementById('start').click(); } }"
    )
    page.wait_for_function(f"document.querySelectorAll('#rows tr').length === {FIFTY}")
    ids = page.eval_on_selector_all("#rows tr", "rows => rows.map(row => row.dataset.id)")
    with ThreadPoolExecutor(8) as asking:
        cancel = deployment.api.http.post
        answers = asking.map(lambda task_id: cancel(f"/tasks/{task_id}/cancel"), ids)
        # 409 for a job that finished first.
        assert {answer.status_code for answer in answers} <= {202, 409}
    # The page has at most 4 streams open; each ends at its job's final event and the next
    # opens, so every row learns its end.
    page.wait_for_function(
        "[...document.querySelectorAll('#rows tr')]"
        ".every(row => ['cancelled', 'completed'].includes(row.dataset.status))"
    )
    keep_screenshot(browser, "step6-live-page-50-jobs.png")
    # Readable: the table scrolls inside its box, the page neither grows nor scrolls sideways.
    layout = page.evaluate(
        """() => {
          const box = document.querySelector('.jobs');
          const row = document.querySelector('#rows tr');
          return {
            scrolls_inside: box.scrollHeight > box.clientHeight,
            page_height: document.documentElement.scrollHeight,
            page_width: document.documentElement.scrollWidth,
            row_height: row.getBoundingClientRect().height,
          };
        }"""
    )
    assert layout["scrolls_inside"], layout
    assert layout["page_height"] <= VIEWPORT["height"], layout
    assert layout["page_width"] <= VIEWPORT["width"], layout
    assert layout["row_height"] <= 28, layout  # compact: about 17 rows in view
    assert not browser.outside_requests, browser.outside_requests
    assert not browser.errors, browser.errors


def test_flower_shows_the_worker_a_finished_task_and_a_cancelled_one(
    browser: Browser, deployment: Deployment
) -> None:
    page = browser.page
    # Flower lists a worker on /workers once it has received that worker's events, so from then
    # on it sees every task's: Flower knows only the events that reach it, and a job posted
    # while it is still starting goes unseen.
    page.goto(deployment.flower_url + "/workers")
    # The worker `python -m` started, by the name Celery gave it: celery@<this host>.
    page.get_by_text(f"celery@{socket.gethostname()}").first.wait_for()
    api = deployment.api.http
    finished, cancelled = api.post("/long_task").json(), api.post("/long_task").json()
    wait_until(lambda: api.get(f"/tasks/{cancelled}").json()["progress"], 20, "a running job")
    api.post(f"/tasks/{cancelled}/cancel")
    # Flower's task list comes from the worker's task events (worker_send_task_events); the
    # page shows what Flower knew when it loaded, so load it again until both jobs have ended.
    # The cancelled job says so itself (tasks.py): Celery sends no event for Ignore.
    expected = {finished: "SUCCESS", cancelled: "REVOKED"}

    def flower_shows_both() -> bool:
        page.goto(deployment.flower_url + "/tasks")
        page.wait_for_load_state("networkidle")
        rows = {task_id: page.locator("tr", has_text=task_id) for task_id in expected}
        return all(
            row.count() == 1 and expected[task_id] in row.inner_text()
            for task_id, row in rows.items()
        )

    wait_until(flower_shows_both, JOB_SECONDS * 5, "Flower to list both tasks as ended", 0.5)
    keep_screenshot(browser, "step6-flower-tasks.png")
    assert not browser.outside_requests, browser.outside_requests
