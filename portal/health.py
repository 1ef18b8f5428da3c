"""Probes for the container healthchecks, outside login: /healthz says the process answers and
touches nothing; /readyz says whether it can do its work (database, Redis, a live worker)."""

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from kombu.exceptions import OperationalError

from portal.celery import app as celery_app

# Each dependency answers within this, or counts as down: the probe must stay cheap.
PROBE_TIMEOUT_S = 1.0


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """200 when the database, Redis and at least one Celery worker answer; else 503, with what
    failed and why."""
    problems = {
        "database": _database_problem(),
        "redis": _redis_problem(),
        "worker": _worker_problem(),
    }
    failing = [name for name, problem in problems.items() if problem]
    checks = {name: problem or "ok" for name, problem in problems.items()}
    return JsonResponse(
        {"status": "unavailable" if failing else "ok", "failing": failing, "checks": checks},
        status=503 if failing else 200,
    )


def _database_problem() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        return f"unreachable: {error}".strip()
    return None


def _redis_problem() -> str | None:
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=PROBE_TIMEOUT_S, socket_timeout=PROBE_TIMEOUT_S
    )
    try:
        client.ping()
    except redis.RedisError as error:
        return f"unreachable: {error}"
    finally:
        client.close()
    return None


def _worker_problem() -> str | None:
    """A ping through the broker; the first worker to answer is enough."""
    try:
        # Fail fast on a broker that is down: the ping alone would keep retrying for seconds.
        with celery_app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=1, interval_start=0, timeout=PROBE_TIMEOUT_S)
        replies = celery_app.control.ping(timeout=PROBE_TIMEOUT_S, limit=1)
    except (OperationalError, redis.RedisError, OSError) as error:
        return f"broker unreachable: {error}"
    if not replies:
        return f"no worker answered a ping within {PROBE_TIMEOUT_S:g} s"
    return None
