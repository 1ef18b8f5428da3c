"""The workers page's feed, without a browser: a heartbeat reaches the staff sockets, one that
cannot be sent leaves the heartbeat whole, and only staff see the page's link."""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

from operations import heartbeat, selectors, workers
from portal.asgi import application
from tests.factories import UserFactory
from tests.test_outages import DEAD_REDIS
from tests.test_websocket import session_headers

NODE = "page-feed@localhost"


@pytest.fixture
def beats(settings):
    """heartbeat.beat for NODE, as a worker on the CPU; its status is gone after the test."""
    settings.ASR_DEVICE = "cpu"
    started_at = timezone.now()
    yield lambda: heartbeat.beat(node=NODE, queues=["voxa"], started_at=started_at)
    client = workers.client()
    client.delete(workers.status_key(NODE))
    client.zrem(workers.SEEN_KEY, NODE)
    client.close()


@pytest.mark.django_db(transaction=True)
def test_a_staff_socket_gets_every_worker_then_each_heartbeat(beats):
    headers = session_headers(UserFactory(is_staff=True))
    beats()

    async def listen():
        communicator = WebsocketCommunicator(application, "/ws/workers/", headers=headers)
        assert (await communicator.connect())[0]
        listed = await communicator.receive_json_from()
        await database_sync_to_async(beats)()
        heard = await communicator.receive_json_from()
        # Other tests' workers may still beat into the same Redis: this test's is the one asked.
        while heard["worker"]["name"] != NODE:
            heard = await communicator.receive_json_from()
        await communicator.disconnect()
        return listed, heard

    listed, heard = async_to_sync(listen)()
    assert listed["type"] == "workers"
    # Workers of earlier tests stay listed (offline) for a week: this one is among them.
    assert NODE in [worker["name"] for worker in listed["workers"]]
    assert heard["type"] == "worker"
    assert heard["worker"]["name"] == NODE
    assert heard["worker"]["online"] is True
    assert heard["worker"]["queues"] == ["voxa"]
    assert heard["worker"]["last_seen"] >= listed["workers"][0]["last_seen"]


@pytest.mark.django_db
def test_a_heartbeat_the_channel_layer_refuses_is_still_written(settings, beats):
    settings.CHANNEL_LAYERS = DEAD_REDIS
    beats()
    assert selectors.worker_get(NODE)["online"] is True


@pytest.mark.django_db
def test_only_staff_have_the_workers_link(alice):
    staff = UserFactory(is_staff=True)
    for user, linked in ((alice, False), (staff, True)):
        client = Client()
        client.force_login(user)
        page = client.get("/").content.decode()
        assert ('data-testid="nav-workers"' in page) is linked
