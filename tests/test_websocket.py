"""Live progress over /ws/jobs/: the owner hears every stage up to the end, nobody else hears
anything; only the portal's own pages (same scheme, host and port) may open the socket."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from portal.asgi import application
from tests.audio_files import speech
from tests.test_end_to_end import upload
from transcription.progress import user_group

pytestmark = pytest.mark.django_db(transaction=True)

# A page at http://localhost:8000 opening its socket: the browser sends both.
HOST = (b"host", b"localhost:8000")
ORIGIN = (b"origin", b"http://localhost:8000")


def session_cookie(user) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    return (b"cookie", cookie.encode())


def session_headers(user) -> list[tuple[bytes, bytes]]:
    return [HOST, ORIGIN, session_cookie(user)]


def connect(headers) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, "/ws/jobs/", headers=headers)


def test_anonymous_socket_is_refused():
    async def attempt():
        communicator = connect([HOST, ORIGIN])
        connected, code = await communicator.connect()
        await communicator.disconnect()
        return connected, code

    assert async_to_sync(attempt)() == (False, 4401)


def accepted(headers) -> bool:
    async def attempt():
        communicator = connect(headers)
        connected, _ = await communicator.connect()
        await communicator.disconnect()
        return connected

    return async_to_sync(attempt)()


def test_foreign_origin_is_refused(alice):
    assert accepted([HOST, (b"origin", b"http://evil.example"), session_cookie(alice)]) is False


@pytest.mark.parametrize(
    "origin",
    [
        b"http://localhost:8001",  # another port of the same host
        b"http://localhost",  # port 80
        b"https://localhost:8000",  # another scheme
        b"http://127.0.0.1:8000",  # another allowed host, not this page's
        b"null",
    ],
)
def test_origin_differing_in_scheme_host_or_port_is_refused(alice, origin):
    assert accepted([HOST, (b"origin", origin), session_cookie(alice)]) is False


def test_missing_origin_or_host_is_refused(alice):
    assert accepted([HOST, session_cookie(alice)]) is False
    assert accepted([ORIGIN, session_cookie(alice)]) is False


def test_host_outside_allowed_hosts_is_refused_even_with_a_matching_origin(alice):
    headers = [(b"host", b"evil.example"), (b"origin", b"http://evil.example")]
    assert accepted([*headers, session_cookie(alice)]) is False


def test_own_origin_and_trusted_origins_are_accepted(alice, settings):
    assert accepted(session_headers(alice)) is True
    settings.CSRF_TRUSTED_ORIGINS = ["https://voxa.example.com", "https://*.example.org"]
    for origin in (b"https://voxa.example.com", b"https://team.example.org"):
        assert accepted([HOST, (b"origin", origin), session_cookie(alice)]) is True
    assert accepted([HOST, (b"origin", b"http://voxa.example.com"), session_cookie(alice)]) is False


def test_behind_nginx_the_forwarded_scheme_is_the_pages(alice, settings):
    # Nginx terminates https and says so; the socket reaches Django as plain ws.
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    forwarded = [
        (b"host", b"localhost:8443"),
        (b"x-forwarded-proto", b"https"),
        session_cookie(alice),
    ]
    assert accepted([*forwarded, (b"origin", b"https://localhost:8443")]) is True
    assert accepted([*forwarded, (b"origin", b"http://localhost:8443")]) is False
    # Without a trusted proxy the header is the client's word and does not count.
    settings.SECURE_PROXY_SSL_HEADER = None
    assert accepted([*forwarded, (b"origin", b"https://localhost:8443")]) is False


def test_non_json_and_binary_frames_are_ignored_and_the_socket_stays_usable(alice):
    payload = {"job": 1, "recording": 1, "team": None, "status": "running", "stage": "decoding",
               "progress": 5.0, "message": "", "error": ""}  # fmt: skip
    headers, group = session_headers(alice), user_group(alice.pk)

    async def talk():
        communicator = connect(headers)
        assert (await communicator.connect())[0]
        await communicator.send_to(text_data="not json {")
        await communicator.send_to(bytes_data=b"\x00\xff binary")
        await communicator.send_json_to({"subscribe": "everything"})
        quiet = await communicator.receive_nothing(timeout=0.5)
        await get_channel_layer().group_send(group, {"type": "job.progress", "payload": payload})
        received = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return quiet, received

    quiet, received = async_to_sync(talk)()
    assert quiet is True  # no close, no error frame
    assert received == payload


@pytest.mark.slow
def test_owner_receives_progress_up_to_succeeded_and_others_receive_none(
    celery_worker, alice, bob, alice_api
):
    alice_headers, bob_headers = session_headers(alice), session_headers(bob)

    async def listen() -> tuple[list[dict], list[dict]]:
        alice_socket, bob_socket = connect(alice_headers), connect(bob_headers)
        assert (await alice_socket.connect())[0] and (await bob_socket.connect())[0]
        loop = asyncio.get_running_loop()
        [job] = await loop.run_in_executor(
            None, lambda: upload(alice_api, [speech("en_speechrecognition_english.wav")])
        )
        events = []
        while not events or events[-1]["status"] in ("queued", "running"):
            event = await alice_socket.receive_json_from(timeout=300)
            if event["job"] == job["id"]:
                events.append(event)
        bob_heard = []
        while not await bob_socket.receive_nothing(timeout=1):
            bob_heard.append(await bob_socket.receive_json_from())
        await alice_socket.disconnect()
        await bob_socket.disconnect()
        return events, bob_heard

    events, bob_heard = async_to_sync(listen)()

    stages = [e["stage"] for e in events]
    assert events[-1]["status"] == "succeeded"
    assert events[-1]["progress"] == 100
    assert {"decoding", "segmenting", "transcribing"} <= set(stages)
    assert bob_heard == []
