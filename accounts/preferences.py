"""A user's language and time zone: what they chose (accounts.Preferences), else their browser's
(Accept-Language; the time zone its script reports in the TIME_ZONE_COOKIE)."""

import zoneinfo
from collections.abc import Callable
from functools import cache

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation

from accounts.models import Preferences

# Set by static/js/timezone.js from Intl.DateTimeFormat().resolvedOptions().timeZone.
TIME_ZONE_COOKIE = "voxa_tz"


@cache
def _time_zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def valid_time_zone(name: str) -> zoneinfo.ZoneInfo | None:
    """The zone of that IANA name, or None for a name that is none (a cookie can say anything)."""
    return zoneinfo.ZoneInfo(name) if name in _time_zone_names() else None


def time_zone_choices() -> list[tuple[str, str]]:
    return sorted((name, name) for name in _time_zone_names())


def preferences_of(user: AbstractBaseUser) -> Preferences | None:
    return Preferences.objects.filter(user=user).first()


def preferences_update(*, user: AbstractBaseUser, **fields: object) -> Preferences:
    preferences, _ = Preferences.objects.get_or_create(user=user)
    for name, value in fields.items():
        setattr(preferences, name, value)
    preferences.save(update_fields=list(fields))
    return preferences


class PreferencesMiddleware:
    """After LocaleMiddleware and AuthenticationMiddleware: a signed-in user's chosen language
    wins over the browser's, and the pages' dates follow their time zone (chosen, else the
    browser's, else settings.TIME_ZONE)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        preferences = preferences_of(request.user) if request.user.is_authenticated else None
        language = preferences.language if preferences else ""
        if language in dict(settings.LANGUAGES):
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        chosen_zone = preferences.time_zone if preferences else ""
        zone = valid_time_zone(chosen_zone or request.COOKIES.get(TIME_ZONE_COOKIE, ""))
        if zone:
            timezone.activate(zone)
        else:
            timezone.deactivate()
        # For the pages' scripts (base.html): blank, they use the browser's own zone.
        request.time_zone = zone.key if zone else ""
        return self.get_response(request)
