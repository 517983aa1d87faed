"""The queue stages 5 and up run on with no settings: Celery's broker and result store in a
folder, for one machine and no server. What they run on, not what they teach: each stage's
tasks.py holds its Celery settings and its job, and calls this package for the rest.

- `EmbeddedQueue` (folder.py): the folder's layout, the broker URL and transport options that
  put messages there, the SQLite result store beside them, and `create`, which makes them.
- folder_transport.py: kombu's filesystem transport, made safe for workers and clients that
  start and write at once, registered below as `filesystem-atomic://`.
- `watch_leases` (leases.py): the folder cannot give a dead worker's job back, as a broker
  does; a lease per running job lets any worker report such a job failed instead.
"""

from kombu.transport import TRANSPORT_ALIASES

from embedded_queue.folder import BROKER_URL, EmbeddedQueue, is_folder_broker, is_sqlite_results
from embedded_queue.leases import MISSED_HEARTBEATS, Interrupted, Leases, watch_leases

# kombu finds a transport by the scheme of the broker URL in this table. Registered when the
# package is imported, which every API process and worker of a stage does through its tasks.py
# before Celery opens a connection.
TRANSPORT_ALIASES["filesystem-atomic"] = "embedded_queue.folder_transport:Transport"

__all__ = [
    "BROKER_URL",
    "MISSED_HEARTBEATS",
    "EmbeddedQueue",
    "Interrupted",
    "Leases",
    "is_folder_broker",
    "is_sqlite_results",
    "watch_leases",
]
