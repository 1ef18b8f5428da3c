"""The answer to an exception no view handled: 503 with a clear message when a service the
portal needs (PostgreSQL, Redis) does not answer, else a plain 500; JSON on the API.

Django's handler500, not a middleware: an exception raised in a middleware (the session saved
after the view, say) becomes a response inside the middleware chain, before any other
middleware could see it, and DRF re-raises what it does not know; both end here, with the
exception still in flight (sys.exc_info(), asgiref keeps it across its thread hop too).
"""

import sys

import kombu.exceptions
import redis.exceptions
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import escape

SERVICE_DOWN = (
    OperationalError,
    InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    kombu.exceptions.OperationalError,
)
SERVICE_DOWN_MESSAGE = (
    "The service is temporarily unavailable: its database or message broker does not answer. "
    "Please try again in a few minutes."
)
SERVER_ERROR_MESSAGE = "Server error: the request could not be completed."
RETRY_AFTER_S = 60


def server_error(request: HttpRequest) -> HttpResponse:
    if isinstance(sys.exc_info()[1], SERVICE_DOWN):
        response = _answer(request, 503, "Service unavailable", SERVICE_DOWN_MESSAGE)
        response["Retry-After"] = str(RETRY_AFTER_S)
        return response
    return _answer(request, 500, "Server error", SERVER_ERROR_MESSAGE)


def _answer(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=status)
    # No template: rendering one with the request's context would ask the database for the user.
    page = f"<!doctype html><title>{title}</title><h1>{title}</h1><p>{escape(message)}</p>"
    return HttpResponse(page, status=status)
