"""A client that reads a response slowly, and notes when each piece arrived (pitfall 13).

A raw socket, so nothing between us and the kernel reads ahead: a small receive buffer, a
small read, a pause between reads. TCP's flow control then holds the server back: it can send
no faster than we read, and a large body takes a known while to arrive.
"""

from __future__ import annotations

import bisect
import socket
import time
from dataclasses import dataclass

# At most 64 KB every 2 ms (32 MB/s): a 16 MB body takes at least half a second, and every
# read waits on the server, which waits on us (loopback itself moves GB/s).
READ_BYTES = 64 * 1024
PAUSE_SECONDS = 0.002
RECEIVE_BUFFER_BYTES = 64 * 1024
TIMEOUT_SECONDS = 30.0
HEAD_END = b"\r\n\r\n"


@dataclass(frozen=True)
class SlowRead:
    status: int
    body_bytes: int
    content_length: int
    arrival_times: list[float]  # time.monotonic() of each read, in order
    bytes_so_far: list[int]  # the response's bytes (head and body) received by then

    @property
    def total_bytes(self) -> int:
        return self.bytes_so_far[-1]

    @property
    def last_byte_at(self) -> float:
        return self.arrival_times[-1]

    def received_by(self, moment: float) -> int:
        """How many of the response's bytes had arrived at `moment`."""
        reads = bisect.bisect_right(self.arrival_times, moment)
        return self.bytes_so_far[reads - 1] if reads else 0


def post_and_read_slowly(port: int, path: str) -> SlowRead:
    """POST `path` on 127.0.0.1:`port` (HTTP/1.1, no body, the connection closed after) and
    read the response READ_BYTES at a time, PAUSE_SECONDS apart, until the server closes."""
    times: list[float] = []
    so_far: list[int] = []
    start = bytearray()  # the response's first bytes, until its head is in: the body is counted
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Before connect(): the receive window offered to the server is sized from it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        sock.settimeout(TIMEOUT_SECONDS)
        sock.connect(("127.0.0.1", port))
        request = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n"
        sock.sendall(f"{request}Connection: close\r\n\r\n".encode())
        while data := sock.recv(READ_BYTES):
            times.append(time.monotonic())
            so_far.append((so_far[-1] if so_far else 0) + len(data))
            if HEAD_END not in start:
                start += data
            time.sleep(PAUSE_SECONDS)
    status, headers, head_length = parse_head(bytes(start))
    return SlowRead(
        status=status,
        body_bytes=so_far[-1] - head_length,
        content_length=int(headers["content-length"]),
        arrival_times=times,
        bytes_so_far=so_far,
    )


def parse_head(start: bytes) -> tuple[int, dict[str, str], int]:
    """The status code, the headers (names in lower case) and the head's length in bytes."""
    head, end, _ = start.partition(HEAD_END)
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), {k.lower(): v for k, v in headers.items()}, len(head + end)
