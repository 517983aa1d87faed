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

from bench import charts
from bench.deploy_figures import lanes_chart, table
from bench.deploys import DEPLOYS_MD, DEPLOYS_SVG, FULL, SHORT, Outcome, measure, stored
from tests.docs_build import EDITIONS, Edition
from tests.step5_deployments import BROKER_ENVS

# The longest a job of the short plan spent in the queue: here 1 to 7 s (a job a retiring
# worker had taken but not started waits out its soft shutdown; the load is more than 4
# processes keep up with).
WAITED_WITHIN = 15.0


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
def test_a_rolling_deploy_under_load_loses_no_accepted_job(broker: str) -> None:
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
    assert outcome.longest_wait <= WAITED_WITHIN, [job for job in outcome.jobs if job.waited > 5]


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


def test_the_deploy_table_and_chart_are_what_the_measurement_gives() -> None:
    # The chart is what its data file draws (tests/test_docs_figures.py); here the data file is
    # what the stored measurement gives, job by job, and so is the table.
    outcomes, stamp = stored()
    assert DEPLOYS_MD.read_text(encoding="utf-8") == table(outcomes)
    assert charts.load(DEPLOYS_SVG) == lanes_chart(outcomes, stamp)


@pytest.mark.parametrize("edition", EDITIONS, ids=str)
def test_the_deploy_page_shows_the_table_and_the_chart(edition: Edition) -> None:
    page = (edition.docs / "step5_deploys.md").read_text(encoding="utf-8")
    assert '--8<-- "docs/step5/deploys.md"' in page
    assert "(step5/deploys.svg)" in page
