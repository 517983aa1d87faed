"""kombu's filesystem transport, with each message file written whole before it appears.

kombu 5.7 creates a message's final `*.msg` file, then writes into it. A worker that lists the
folder in between takes the empty file, fails to decode it and stops: the job is lost, and the
jobs that worker would have run wait for another; a few clients POSTing at once are enough.
Here the message is written under a name no worker reads, then renamed: on POSIX a rename
within a folder is atomic, so a worker sees no file or the whole one.

The same goes for the file that binds the queue to its exchange, which every worker writes as
it starts: kombu creates it empty, then locks and writes it, so a second worker starting at that
moment can read it empty, and stop (four workers started at once are enough). Here it appears
whole, with its first binding, and later bindings are added under the lock.

And the worker polls the folder from its event loop, so that a pool process killed while it
waits for a job does not stop the worker for good (see Transport).

A job the worker gives back (a soft shutdown, a killed pool process) returns to the folder
without the lease of the run that stopped (see _restore).
"""

import fcntl
import os
import uuid
from pathlib import Path
from queue import Empty
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.json import dumps, loads

# A worker takes a file whose name, after the first dot, is "<queue>.msg"; this one never is.
UNFINISHED = ".part"
# At most this many messages per look into the folder (the prefetch limit stops it earlier).
MESSAGES_PER_POLL = 100


class Channel(filesystem.Channel):
    # --8<-- [start:give-back]
    def _restore(self, message: Any) -> None:
        """Put a job that did not finish back in the folder, for the next free worker.

        kombu calls this for each unacknowledged message when the worker's connection closes
        (a warm, cold or soft shutdown: kombu/transport/virtual/base.py, QoS.restore_unacked)
        and for a rejected one put back (Celery's task_reject_on_worker_lost). The run that
        stopped left its lease behind; a worker finding it expired while the job waits again
        would report a job that is about to run again "failed". So the lease goes first.
        """
        leases = self.transport_options.get("leases_folder")
        task_id = message.headers.get("id")
        if leases and task_id:
            (Path(leases) / f"{task_id}.json").unlink(missing_ok=True)
        super()._restore(message)

    # --8<-- [end:give-back]

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        """Add `queue` to the exchange's table, which every starting worker reads and writes."""
        file = self._exchange_file(exchange)
        self.control_folder.mkdir(exist_ok=True)
        binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        try:
            if self._create_whole(file, [binding]):
                return
            with open(file, "r+b", buffering=0) as table:
                fcntl.flock(table.fileno(), fcntl.LOCK_EX)  # released when the file closes
                bindings = [filesystem.exchange_queue_t(*row) for row in loads(table.read())]
                if binding not in bindings:
                    bindings.insert(0, binding)
                    table.seek(0)
                    table.write(dumps(bindings).encode())
        except OSError as error:
            raise ChannelError(f"Cannot open {file}") from error

    @staticmethod
    def _create_whole(file: Path, bindings: list[Any]) -> bool:
        """Create the table with its first binding, written whole before it appears; False if
        another worker created it first. (kombu 5.7 creates it empty, then locks and writes.)"""
        unfinished = file.with_name(f"{file.name}.{uuid.uuid4()}{UNFINISHED}")
        unfinished.write_bytes(dumps(bindings).encode())
        try:
            os.link(unfinished, file)  # atomic, and fails if the name exists
        except FileExistsError:
            return False
        finally:
            unfinished.unlink()
        return True

    # The signature of kombu's own filesystem Channel._put, which differs from its base class.
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
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
    """The folder, polled from the worker's event loop, as Celery runs Redis and RabbitMQ.

    A transport that is not asynchronous makes Celery fall back to billiard's threaded pool
    (celery/worker/worker.py, should_use_eventloop; components.py, `threaded`). Its pool
    processes share one pipe for jobs, and an idle process waits on it holding the pipe's lock
    (billiard/queues.py, SimpleQueue.get_payload). Kill that process (`kill -9` of every pool
    process does) and the lock is never released: the new processes wait for it for ever, and
    no job starts again, the killed one included. Upstream: celery/billiard issue 104 ("Pool
    gets stuck if hard timeout hits", 2014; any SIGKILL does it), and CPython's own
    multiprocessing.Pool, python/cpython issue 66587. Celery's event-loop pool (AsynPool) gives
    each process a pipe of its own, so a dead process takes no lock with it.
    """

    Channel = Channel
    implements = filesystem.Transport.implements.extend(asynchronous=True)

    def register_with_event_loop(self, connection: Any, loop: Any) -> None:
        # A folder cannot wake the loop the way a socket does: look into it at every poll.
        loop.call_repeatedly(self.polling_interval, self._take_waiting, connection)

    def _take_waiting(self, connection: Any) -> None:
        """Deliver the messages waiting now, as many as the prefetch limit takes, no waiting."""
        for _ in range(MESSAGES_PER_POLL):
            try:
                self.drain_events(connection, timeout=0)
            except (TimeoutError, Empty):
                return
