"""Line-buffered output, as on a terminal, for every Python process the harness starts.

Every stage prints its console lines with print(), as the article does. On a reader's
terminal Python line-buffers stdout, so each printed line leaves in one write, and lines that
threads or processes sharing the console print at once never run together. A pipe, which is
what the harness reads, gets no such buffering: Python holds lines back until its buffer is
full, and PYTHONUNBUFFERED=1 (so that each line arrives at once) writes print()'s text and
its newline separately, so two printers splice their lines ("Exiting endpointStarting long
task"). The harness puts this folder on the PYTHONPATH of what it starts, Python's `site`
imports this module at startup, and the console the tests read is a terminal's: one write
per line, and a pipe write that small is never split (POSIX: PIPE_BUF).
"""

import sys

for stream in (sys.stdout, sys.stderr):
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(line_buffering=True, write_through=False)
