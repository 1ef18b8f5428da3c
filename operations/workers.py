"""Where workers' statuses live in Redis: written by operations.heartbeat in each worker, read by
operations.selectors in the web. No torch or Django models here: both processes import it."""

from datetime import UTC, datetime
from typing import Any

import redis
from django.conf import settings

# One key per worker, its latest status as JSON, written with a TTL of ONLINE_INTERVALS heartbeats:
# the key's existence is what makes a worker online, so the web needs no copy of each worker's
# interval. The sorted set (worker name -> last heartbeat, Unix time) keeps the ones gone offline.
STATUS_KEY = "voxa:workers:status:{name}"
SEEN_KEY = "voxa:workers:seen"
ONLINE_INTERVALS = 3
# A worker silent this long is dropped from the list: hosts renamed or retired do not pile up.
FORGET_AFTER_S = 7 * 24 * 3600


def client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)


def status_key(name: str) -> str:
    return STATUS_KEY.format(name=name)


def entry(name: str, last_seen: float, status: dict[str, Any] | None) -> dict[str, Any]:
    """A worker as staff see it: its latest status, or, offline, only its name and when it was
    last seen (Unix time)."""
    return {
        "name": name,
        "online": status is not None,
        "last_seen": datetime.fromtimestamp(last_seen, tz=UTC).isoformat(),
        **(status or {}),
    }
