"""The API's rate limits (DRF throttles), counted in the Redis cache shared by the web processes.

While Redis is down the counters cannot be read: the request is let through (and the outage
logged) rather than refused, so that uploads and reads keep working through a Redis outage, as the
rest of the portal does (README, Reliability). Logins stay guarded meanwhile: django-axes counts
failures in the database.
"""

import logging

from redis.exceptions import RedisError
from rest_framework import throttling

logger = logging.getLogger(__name__)


class _AllowWhileCacheIsDown:
    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except RedisError as error:
            logger.warning("Rate limit not applied, its counters are unreachable: %s", error)
            return True


class AnonRateThrottle(_AllowWhileCacheIsDown, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(_AllowWhileCacheIsDown, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(_AllowWhileCacheIsDown, throttling.ScopedRateThrottle):
    pass
