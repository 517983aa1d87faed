"""Send many HTTP requests at the same moment, each on its own connection.

httpx's connection pool spends seconds of client CPU on 500 simultaneous connections, which
would measure the client rather than the server; one plain HTTP/1.1 exchange per asyncio
connection costs almost nothing, so the server is what the test sees.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

# Generous: 500 connections at once on a busy 2-core machine take a few seconds.
ANSWER_SECONDS = 60.0


async def _post(port: int, path: str) -> tuple[int, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"
        "Connection: close\r\n\r\n".encode()
    )
    # The server closes the connection after its answer; a server that never answers fails
    # the test instead of hanging it.
    answer = await asyncio.wait_for(reader.read(), ANSWER_SECONDS)
    writer.close()
    await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def post_at_once(port: int, path: str, count: int) -> list[tuple[int, Any]]:
    """`count` simultaneous POSTs to `path`; (status code, JSON body) of each, in order."""

    async def post_all() -> list[tuple[int, Any]]:
        return await asyncio.gather(*(_post(port, path) for _ in range(count)))

    return asyncio.run(post_all())
