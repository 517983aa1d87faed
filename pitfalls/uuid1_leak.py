"""Pitfall 9: what a uuid1 task id tells anyone who sees it.

python -m pitfalls.uuid1_leak TASK_ID
"""

import argparse
import uuid
from datetime import UTC, datetime, timedelta

# uuid1 counts time in 100-nanosecond steps from the start of the Gregorian calendar.
GREGORIAN_START = datetime(1582, 10, 15, tzinfo=UTC)


# --8<-- [start:reveal]
def hardware_address(task_id: uuid.UUID) -> str:
    """The node field: the MAC address of the machine that made the id."""
    return ":".join(f"{task_id.node:012x}"[n : n + 2] for n in range(0, 12, 2))


def created_at(task_id: uuid.UUID) -> datetime:
    """The time field: when the id was made, to a tenth of a microsecond."""
    return GREGORIAN_START + timedelta(microseconds=task_id.time / 10)


# --8<-- [end:reveal]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("task_id", type=uuid.UUID)
    task_id = parser.parse_args().task_id
    if task_id.version != 1:
        parser.error(f"this is a version {task_id.version} uuid; only version 1 leaks")
    print(f"made on the machine with hardware address {hardware_address(task_id)}")
    print(f"made at {created_at(task_id).isoformat()}")


if __name__ == "__main__":
    main()
