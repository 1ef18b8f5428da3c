"""Serving stored audio with HTTP Range, so the player can seek (FileResponse does not answer
Range), or handing it to Nginx once access is checked."""

import mimetypes
import re
from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage
from django.http import FileResponse, HttpRequest, HttpResponse
from django.utils.http import content_disposition_header

RANGE_PATTERN = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK_SIZE = 64 * 1024
# Nginx's `internal` location aliasing MEDIA_ROOT (deploy/nginx/templates/voxa/site.conf.template),
# reachable only through X-Accel-Redirect: a guessed media path is a 404.
ACCEL_REDIRECT_PREFIX = "/protected-media/"

# Content types by container, for files whose stored name has no extension.
CONTAINER_TYPES = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "matroska,webm": "audio/webm",
    "mov,mp4,m4a,3gp,3g2,mj2": "audio/mp4",
}


def audio_content_type(name: str, container: str = "") -> str:
    guessed, _ = mimetypes.guess_type(name)
    return guessed or CONTAINER_TYPES.get(container, "application/octet-stream")


def stored_file_response(
    request: HttpRequest, storage: Storage, name: str, *, content_type: str, filename: str
) -> HttpResponse:
    """A stored file the caller may read, seekable. Behind Nginx (MEDIA_ACCEL_REDIRECT) a file on
    local disk is sent by Nginx, which answers Range and holds the slow client instead of a web
    worker; Nginx aliases MEDIA_ROOT only, so any other storage is streamed from here."""
    if settings.MEDIA_ACCEL_REDIRECT and isinstance(storage, FileSystemStorage):
        return accel_redirect_response(name, content_type=content_type, filename=filename)
    return ranged_file_response(
        request, storage, name, content_type=content_type, filename=filename
    )


def accel_redirect_response(name: str, *, content_type: str, filename: str) -> HttpResponse:
    """An empty answer telling Nginx to send the stored file `name` itself, with these headers."""
    response = HttpResponse(content_type=content_type)
    response["X-Accel-Redirect"] = ACCEL_REDIRECT_PREFIX + quote(name)
    response["Content-Disposition"] = content_disposition_header(False, filename)
    return response


def ranged_file_response(
    request: HttpRequest, storage: Storage, name: str, *, content_type: str, filename: str
) -> HttpResponse:
    size = storage.size(name)
    byte_range = _requested_range(request.headers.get("Range", ""), size)
    if byte_range is None:
        response = FileResponse(storage.open(name, "rb"), content_type=content_type)
    elif byte_range == "unsatisfiable":
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    else:
        start, end = byte_range
        handle = storage.open(name, "rb")
        handle.seek(start)
        response = FileResponse(_limited(handle, end - start + 1), content_type=content_type)
        response.status_code = 206
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = content_disposition_header(False, filename)
    return response


def _requested_range(header: str, size: int) -> tuple[int, int] | str | None:
    """One byte range, per RFC 9110; anything else is answered with the whole file."""
    match = RANGE_PATTERN.match(header.strip())
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":  # the last N bytes
        start, end = max(size - int(last), 0), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        return "unsatisfiable"
    return start, end


def _limited(handle, length: int):
    try:
        while length > 0:
            chunk = handle.read(min(CHUNK_SIZE, length))
            if not chunk:
                break
            length -= len(chunk)
            yield chunk
    finally:
        handle.close()
