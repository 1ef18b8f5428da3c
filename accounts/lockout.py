"""django-axes hooks: whose address a login attempt counts against, and what a locked-out client
is told."""

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.timesince import timeuntil
from rest_framework.throttling import BaseThrottle

LOCKOUT_MESSAGE = "Too many failed logins for this username from your address."


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as the API's rate limits see it: REMOTE_ADDR, or with TRUSTED_PROXIES
    the address the nearest trusted proxy wrote into X-Forwarded-For. What the client itself put
    in that header never counts, so changing it neither resets nor dodges a lockout."""
    return BaseThrottle().get_ident(request)


def cooloff_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def lockout_response(request: HttpRequest, *args: object) -> HttpResponse:
    """The login page again, saying why and for how long logging in is refused (429). Axes passes
    the original response and credentials too, in an order that differs between its sync and
    async paths: neither is needed here."""
    now = timezone.now()
    wait = timeuntil(now + settings.AXES_COOLOFF_TIME, now)
    context = {
        "form": AuthenticationForm(request),
        "lockout_message": f"{LOCKOUT_MESSAGE} Try again in {wait}.",
        "password_reset_enabled": settings.PASSWORD_RESET_ENABLED,
    }
    response = TemplateResponse(request, "registration/login.html", context, status=429)
    response["Retry-After"] = str(cooloff_seconds())
    return response.render()
