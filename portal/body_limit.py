"""Every HTTP request body is capped before the application reads it, so that one request can
hold at most REQUEST_MAX_BODY_MB of the web process's memory or disk.

Django's ASGI handler reads the whole body (into memory up to FILE_UPLOAD_MAX_MEMORY_SIZE, then
into a temporary file) before any middleware or view runs, so its own upload limits come too late
for a body that is merely large. This ASGI middleware sits in front of it: a Content-Length over
the cap is answered 413 without reading a byte, and a body without one (chunked encoding) is
answered 413 as soon as it passes the cap, and read no further. The server (uvicorn) reads a body
only as fast as the application asks for it, so what was not asked for is never buffered.
"""

import json

from asgiref.typing import (
    ASGI3Application,
    ASGIReceiveCallable,
    ASGIReceiveEvent,
    ASGISendCallable,
    ASGISendEvent,
    HTTPScope,
)


class _BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    def __init__(self, app: ASGI3Application, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(
        self, scope: HTTPScope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send)
            return
        received = 0
        responded = False

        async def capped_receive() -> ASGIReceiveEvent:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def watched_send(message: ASGISendEvent) -> None:
            nonlocal responded
            responded = responded or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, capped_receive, watched_send)
        except _BodyTooLarge:
            if not responded:
                await self._refuse(send)

    async def _refuse(self, send: ASGISendCallable) -> None:
        megabytes = self.max_bytes // (1024 * 1024)
        body = json.dumps(
            {
                "detail": f"The request body is larger than the {megabytes} MB limit. "
                "Send large files in chunks through /api/uploads/."
            }
        ).encode()
        # Connection: close makes the server drop the connection rather than drain the rest.
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})


def _content_length(scope: HTTPScope) -> int | None:
    for name, value in scope["headers"]:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
