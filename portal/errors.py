"""Answers to errors. An exception no view handled: 503 with a clear message when a service the
portal needs (PostgreSQL, Redis) does not answer, else a plain 500; JSON on the API. A request
the API cannot read: JSON with a reason, never Django's HTML page.

Django's handler500, not a middleware: an exception raised in a middleware (the session saved
after the view, say) becomes a response inside the middleware chain, before any other
middleware could see it, and DRF re-raises what it does not know; both end here, with the
exception still in flight (sys.exc_info(), asgiref keeps it across its thread hop too).
"""

import sys

import kombu.exceptions
import redis.exceptions
from django.conf import settings
from django.core.exceptions import (
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.utils.html import escape
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.response import Response
from rest_framework.views import exception_handler

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
    return HttpResponse(_error_page(status, title, message), status=status)


def _error_page(status: int, title: str, message: str) -> str:
    """The site's error page, rendered without the request: its context (the user, the
    workspaces) would ask the database, which may be what failed. Should even the template fail
    (static files not collected, say), a bare page still says what happened."""
    try:
        context = {"status": status, "title": title, "message": message}
        return loader.render_to_string("500.html", context)
    except Exception:  # answering an error must not raise another
        return f"<!doctype html><title>{title}</title><h1>{title}</h1><p>{escape(message)}</p>"


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request's form fields are too large."


def api_exception_handler(error: Exception, context: dict) -> Response | None:
    """DRF's handler, plus the errors Django raises while parsing a request body (too many
    files or fields, a malformed multipart body): Django would answer them with an HTML 400."""
    return exception_handler(_as_api_error(error), context)


def _as_api_error(error: Exception) -> Exception:
    if isinstance(error, TooManyFilesSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        return ParseError(f"Too many files in one request: send at most {limit} files at a time.")
    if isinstance(error, TooManyFieldsSent):
        return ParseError("Too many form fields in one request.")
    if isinstance(error, RequestDataTooBig):
        return RequestTooLarge()
    if isinstance(error, SuspiciousOperation):
        return ParseError(f"The request could not be read: {error}")
    return error
