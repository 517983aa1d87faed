"""kombu's filesystem transport, with each message file written whole before it appears.

kombu 5.7 creates a message's final `*.msg` file, then writes into it. A worker that lists the
folder in between takes the empty file, fails to decode it and stops: the job is lost, and the
jobs that worker would have run wait for another. Seen with a few clients POSTing at once.
Here the message is written under a name no worker reads, then renamed: on POSIX a rename
within a folder is atomic, so a worker sees no file or the whole one.
"""

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.json import dumps

# A worker takes a file whose name, after the first dot, is "<queue>.msg"; this one never is.
UNFINISHED = ".part"


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        """Put a message onto `queue`: named as kombu names it, so kombu's workers read it."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        path = os.path.join(self.data_folder_out, name)
        try:
            with open(path + UNFINISHED, "wb") as file:
                file.write(dumps(payload).encode())
                file.flush()
                os.fsync(file.fileno())  # the data on disk before the name, even after a crash
            os.replace(path + UNFINISHED, path)
        except OSError as error:
            raise ChannelError(f"Cannot add file {path!r} to directory") from error


class Transport(filesystem.Transport):
    Channel = Channel
