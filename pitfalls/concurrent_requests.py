"""Send the same request several times at once and print how long each took (pitfall 10).

python -m pitfalls.concurrent_requests http://127.0.0.1:8000/long_task [--count 3]

A browser sends identical requests from two tabs one after the other, so a server that handles
them concurrently looks as if it blocked. Separate clients, as here (or curl), do not wait.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

import httpx


# --8<-- [start:send_at_once]
def timed_post(url: str) -> float:
    """One POST on its own connection, as a separate client would send it; seconds taken."""
    # The client is made before the clock starts: building one (certifi's CA bundle parsed)
    # takes ~15 ms, far more on a busy machine, and is no part of the server's answer.
    with httpx.Client(timeout=None) as client:
        started = time.monotonic()
        client.post(url).raise_for_status()
        return time.monotonic() - started


def send_at_once(url: str, count: int) -> list[float]:
    """`count` identical POSTs sent together; how long each one took, in seconds."""
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(timed_post, [url] * count))


# --8<-- [end:send_at_once]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("url", help="the endpoint to POST to")
    parser.add_argument("--count", type=int, default=3, help="how many requests to send at once")
    args = parser.parse_args()
    started = time.monotonic()
    for number, seconds in enumerate(send_at_once(args.url, args.count), start=1):
        print(f"request {number}: {seconds:.2f} s")
    print(f"all {args.count} done after {time.monotonic() - started:.2f} s")


if __name__ == "__main__":
    main()
