"""Reading the workers' statuses their heartbeats left in Redis (operations.heartbeat)."""

import json
from typing import Any

from operations import workers


def worker_list() -> list[dict[str, Any]]:
    """Every worker seen lately: online ones first, then by name. An offline worker has only its
    name and when it was last seen: its status expired with it."""
    client = workers.client()
    try:
        seen = client.zrange(workers.SEEN_KEY, 0, -1, withscores=True)
        names = [name for name, _ in seen]
        statuses = client.mget([workers.status_key(name) for name in names]) if names else []
    finally:
        client.close()
    found = [
        _entry(name, last_seen, status)
        for (name, last_seen), status in zip(seen, statuses, strict=True)
    ]
    return sorted(found, key=lambda worker: (not worker["online"], worker["name"]))


def worker_get(name: str) -> dict[str, Any] | None:
    client = workers.client()
    try:
        last_seen = client.zscore(workers.SEEN_KEY, name)
        status = client.get(workers.status_key(name))
    finally:
        client.close()
    return None if last_seen is None else _entry(name, last_seen, status)


def _entry(name: str, last_seen: float, status: str | None) -> dict[str, Any]:
    return workers.entry(name, last_seen, json.loads(status) if status is not None else None)
