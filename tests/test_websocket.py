"""Live progress over /ws/jobs/: the owner hears every stage up to the end, nobody else hears
anything."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from portal.asgi import application
from tests.audio_files import speech
from tests.test_end_to_end import upload

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://localhost")


def session_headers(user) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    return [ORIGIN, (b"cookie", cookie.encode())]


def connect(headers) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, "/ws/jobs/", headers=headers)


def test_anonymous_socket_is_refused():
    async def attempt():
        communicator = connect([ORIGIN])
        connected, code = await communicator.connect()
        await communicator.disconnect()
        return connected, code

    assert async_to_sync(attempt)() == (False, 4401)


def test_foreign_origin_is_refused(alice):
    headers = [(b"origin", b"http://evil.example"), *session_headers(alice)[1:]]

    async def attempt():
        communicator = connect(headers)
        connected, _ = await communicator.connect()
        await communicator.disconnect()
        return connected

    assert async_to_sync(attempt)() is False


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
