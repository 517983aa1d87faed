"""The embedded queue's folder: where its messages, results, leases and beat schedule live."""

import sqlite3
from dataclasses import dataclass
from pathlib import Path

# The folder transport (folder_transport.py, registered under this scheme by the package).
BROKER_URL = "filesystem-atomic://"
SQLITE_RESULTS = "db+sqlite:///"


def is_folder_broker(broker_url: str) -> bool:
    """True for the folder transport, and for kombu's own filesystem transport it is based on."""
    return broker_url.startswith((BROKER_URL, "filesystem://"))


def is_sqlite_results(result_backend: str) -> bool:
    return result_backend.startswith(SQLITE_RESULTS)


@dataclass(frozen=True)
class EmbeddedQueue:
    """One queue in one folder. Its paths, and the settings that put Celery there."""

    folder: Path

    @property
    def broker_url(self) -> str:
        return BROKER_URL

    @property
    def result_backend(self) -> str:
        return f"{SQLITE_RESULTS}{self.folder / 'results.sqlite3'}"

    @property
    def messages(self) -> Path:
        """The jobs waiting: one file per message, deleted by the worker that takes it."""
        return self.folder / "messages"

    @property
    def leases(self) -> Path:
        return self.folder / "leases"

    @property
    def beat_schedule(self) -> Path:
        return self.folder / "beat-schedule"

    def transport_options(self) -> dict[str, object]:
        """Celery's `broker_transport_options` for the folder transport."""
        return {
            "data_folder_in": str(self.messages),
            "data_folder_out": str(self.messages),
            "control_folder": str(self.folder / "control"),
            # A job given back returns without the lease of the run that stopped (the
            # transport's _restore).
            "leases_folder": str(self.leases),
            # Workers poll the folder; kombu's default of 1 s starts every job up to 1 s late.
            "polling_interval": 0.1,
        }

    def create(self, broker_url: str, result_backend: str) -> None:
        """Create what of the embedded queue these settings use: the message folder, a SQLite
        result store. The API and every worker call this as they start, so importing a stage's
        tasks.py (for its names, say) creates nothing."""
        if is_folder_broker(broker_url):
            self.messages.mkdir(parents=True, exist_ok=True)
        if is_sqlite_results(result_backend):
            database = Path(result_backend.removeprefix(SQLITE_RESULTS))
            database.parent.mkdir(parents=True, exist_ok=True)
            # WAL lets the API read statuses while a worker writes one (stored in the file).
            with sqlite3.connect(database) as connection:
                connection.execute("PRAGMA journal_mode=WAL")
