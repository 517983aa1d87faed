"""How the pitfall tests time a server: the job lengths, the tolerances of their figures, a
clock around one call, and counting what the console printed."""

from __future__ import annotations

import time
from collections.abc import Callable

from uvicorn_harness.server import RunningServer, wait_until

JOB = 1.0  # where the job's length only has to be visible next to a fast answer
POOL_JOB = 3.0  # pitfall 3: long enough that 40 jobs are posted well before the first ends
# Tolerance for "at once" figures: from a page figure of tens of ms, a live one up to just under
# half the job, where it would meet the figures that wait for it. Not less: with the suite's test
# processes sharing 2 cores, the same at-once figure ranges from 55 to 373 ms.
FAST_SHARE = 0.45
FAST = FAST_SHARE * JOB
SLOW = 0.5  # tolerance, as a share of the job, for figures that wait for a job


def seconds_for(call: Callable[[], object]) -> float:
    """How long `call` takes. A request timed here goes through a client made before: a new
    httpx client parses certifi's CA bundle (~15 ms, 0.5 s seen on a busy machine)."""
    started = time.monotonic()
    call()
    return time.monotonic() - started


def occurrences(lines: list[str], text: str) -> list[int]:
    """The index of each line showing `text`, once for every time it shows it.

    Jobs print from many threads at once, and print() writes the text and the newline
    separately, so two prints can share a line: count occurrences, not equal lines.
    """
    return [n for n, line in enumerate(lines) for _ in range(line.count(text))]


def wait_for_count(server: RunningServer, text: str, at_least: int, since: int) -> None:
    wait_until(
        lambda: len(occurrences(server.console_lines(since), text)) >= at_least,
        timeout=POOL_JOB * 10,
        message=f"{at_least} lines {text!r}",
    )
