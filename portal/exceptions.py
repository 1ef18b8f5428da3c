"""The API's answer to a request it cannot read: JSON with a reason, never Django's HTML page."""

from django.conf import settings
from django.core.exceptions import (
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.response import Response
from rest_framework.views import exception_handler


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
