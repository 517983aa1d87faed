"""Stage 5 through a rolling deploy under load: every accepted job completes, and none twice.

The suite runs bench/deploys.py's short plan on each broker: five jobs a second, one in four
longer than the workers' soft shutdown, while uvicorn's supervisor replaces the API's two
processes (SIGHUP) and each of the two workers is replaced (a successor started and ready,
then SIGTERM to the old one with REMAP_SIGTERM=SIGQUIT, SIGKILL after the grace period).
`make bench` runs the full plan (5 jobs a second for 30 s, two workers of 4 processes, 30 s of
grace) and writes the figures the deploy page shows; the tests below check those against their
data file and the claims the page makes of them.
"""

from __future__ import annotations

import pytest

from bench.deploy_figures import chart_svg, read_runs, table
from bench.deploys import DEPLOYS_MD, DEPLOYS_SVG, FULL, SHORT, Outcome, measure, stored
from tests import crash_table
from tests.docs_build import EDITIONS, Edition
from tests.step5_deployments import BROKER_ENVS

# The longest a job of the short plan waited in the queue: here 2 to 7 s (a job given back by
# a retiring worker waits for a free process, behind the jobs POSTed meanwhile).
WAITED_WITHIN = 15.0
# A bar starts where its run started, to within the drawing's rounding (0.01 px).
DRAWN_WITHIN_SECONDS = 0.01


def problems_of(outcome: Outcome) -> list[str]:
    """What a deploy must not do, in words; empty when it did none of it."""
    found = []
    if outcome.posts_failed:
        found.append(f"{outcome.posts_failed} POSTs failed, retried once")
    if outcome.strays:
        found.append(f"{outcome.strays} jobs ran that no answered POST accepted")
    if outcome.lost:
        lost = [job for job in outcome.jobs if not job.completed]
        found.append(f"{outcome.lost} accepted jobs never completed: {lost}")
    if outcome.ran_to_end_twice:
        found.append(f"{outcome.ran_to_end_twice} jobs ran to their end twice")
    return found


@pytest.mark.parametrize("broker", BROKER_ENVS)
def test_a_rolling_deploy_under_load_loses_no_accepted_job(
    broker: str, request: pytest.FixtureRequest
) -> None:
    outcome = measure(broker, SHORT, BROKER_ENVS[broker]())
    events = "; ".join(f"{event.at:.1f} s {event.what}" for event in outcome.events)
    assert problems_of(outcome) == [], events
    assert outcome.accepted == round(SHORT.jobs_per_second * SHORT.load_seconds)
    assert outcome.completed == outcome.accepted
    # Every process was replaced, each within the grace period (no SIGKILL was needed).
    whats = [event.what for event in outcome.events]
    assert sum(what.endswith("SIGTERM") for what in whats) == SHORT.api_processes + SHORT.workers
    assert sum(what.endswith("exited") for what in whats) == SHORT.api_processes + SHORT.workers
    # A job the deploy stopped ran again, from the start, on another worker, and completed.
    for job in outcome.jobs:
        if any(not run.finished for run in job.runs):
            assert job.completed and job.runs[-1].finished, job
    outcome_text = "every accepted job completes; a job stopped by the deploy runs again"
    cell = crash_table.Cell(
        "deploy", broker, outcome_text, outcome.longest_wait, "longest wait", WAITED_WITHIN
    )
    crash_table.check(request, cell)


def test_the_page_shows_the_full_deploy_and_it_lost_no_job() -> None:
    outcomes, _ = stored()
    assert [outcome.broker for outcome in outcomes] == list(BROKER_ENVS)
    for outcome in outcomes:
        assert outcome.plan == FULL, f"{outcome.broker}: the page shows a run of another plan"
        assert problems_of(outcome) == [], outcome.broker
        assert outcome.completed == outcome.accepted == len(outcome.jobs)
        # The plan's long jobs outlast the grace period: the deploy stopped some, and they ran
        # again (a warm shutdown would have waited for them until the SIGKILL).
        assert outcome.interrupted_ran_again > 0, outcome.broker


def test_the_deploy_table_and_chart_are_drawn_from_their_data() -> None:
    outcomes, stamp = stored()
    assert DEPLOYS_MD.read_text(encoding="utf-8") == table(outcomes)
    svg = DEPLOYS_SVG.read_text(encoding="utf-8")
    assert svg == chart_svg(outcomes, stamp)
    drawn = read_runs(svg)
    for outcome in outcomes:
        assert len(drawn[outcome.broker]) == len(outcome.jobs)
        for job, bars in zip(outcome.jobs, drawn[outcome.broker], strict=True):
            assert [finished for _, _, finished in bars] == [run.finished for run in job.runs]
            for (start, _, _), run in zip(bars, job.runs, strict=True):
                assert start == pytest.approx(run.start, abs=DRAWN_WITHIN_SECONDS)
    assert "Measured " in stamp and "CPUs" in stamp


@pytest.mark.parametrize("edition", EDITIONS, ids=str)
def test_the_deploy_page_shows_the_table_and_the_chart(edition: Edition) -> None:
    page = (edition.docs / "step5_deploys.md").read_text(encoding="utf-8")
    assert '--8<-- "docs/step5/deploys.md"' in page
    assert "(step5/deploys.svg)" in page
