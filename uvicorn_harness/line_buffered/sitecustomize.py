"""Line-buffered output, as on a terminal, for every Python process the harness starts.

The harness puts this folder on the PYTHONPATH of what it starts, so Python's `site` imports
this module at startup. On a reader's terminal Python line-buffers stdout: each printed line
reaches the console in one write. Through the harness's pipe, PYTHONUNBUFFERED=1 makes lines
arrive at once but splits `print()` into two writes, the text and then its newline (seen with
strace), and two processes sharing one console (`python -m step5_queue`: the API and its
worker) interleave them under load: "Exiting endpointStarting long task". Line buffering sends
each line in one write, and a pipe write that small is never split (POSIX: PIPE_BUF).
"""

import sys

for stream in (sys.stdout, sys.stderr):
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(line_buffering=True, write_through=False)
