"""Nothing of a team reaches anyone outside it, and nothing private reaches its plain members:
counted over every list, search, export, audio and websocket event."""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework.test import APIClient

from accounts.models import Membership, Role
from accounts.services import member_remove, member_set_role, membership_add, team_create
from portal.asgi import application
from tests.conftest import api_client_for
from tests.factories import SucceededJobFactory, UserFactory
from tests.test_websocket import HOST, ORIGIN, session_cookie
from transcription import progress
from transcription.models import HotwordList

RECORDINGS = 12  # in the team, a third of them private
EVENTS_PER_JOB = 10
WORD = "Kenobi"  # in every transcript


@pytest.fixture
def team_world(db):
    owner, member, outsider = (UserFactory(username=n) for n in ("owner", "member", "outsider"))
    team = team_create(creator=owner, name="Team")
    membership_add(team=team, user=member, role=Role.MEMBER)
    team_create(creator=outsider, name="Elsewhere")
    jobs = [
        SucceededJobFactory(
            recording__owner=owner, recording__team=team, recording__private=i % 3 == 0
        )
        for i in range(RECORDINGS)
    ]
    HotwordList.objects.create(owner=owner, team=team, name="team words", words="Voxa")
    return {"owner": owner, "member": member, "outsider": outsider, "team": team, "jobs": jobs}


def reachable(client: APIClient, jobs, team) -> dict[str, int]:
    """How many of the team's objects `client` reaches, by kind."""
    listed = client.get("/api/recordings/", {"page_size": 100}).json()["results"]
    job_list = client.get("/api/jobs/").json()["results"]
    hits = client.get("/api/search/", {"q": WORD}).json()["results"]
    team_ids = {job.recording.pk for job in jobs}
    return {
        "recordings": sum(r["id"] in team_ids for r in listed),
        "jobs": sum(j["recording"]["id"] in team_ids for j in job_list),
        "search hits": sum(h["recording"] in team_ids for h in hits),
        "recording pages": sum(
            client.get(f"/api/recordings/{job.recording.pk}/").status_code == 200 for job in jobs
        ),
        "exports": sum(
            client.get(f"/api/jobs/{job.pk}/export/", {"format": fmt}).status_code == 200
            for job in jobs
            for fmt in ("txt", "srt", "vtt", "csv", "json")
        ),
        "audio": sum(
            client.get(f"/api/recordings/{job.recording.pk}/audio/").status_code == 200
            for job in jobs
        ),
        "team workspace": int(
            client.get("/api/recordings/", {"workspace": team.pk}).status_code == 200
        ),
    }


def test_a_member_of_another_team_reaches_none_of_it(team_world):
    jobs, team = team_world["jobs"], team_world["team"]
    outsider, member, owner = (
        reachable(api_client_for(team_world[name]), jobs, team)
        for name in ("outsider", "member", "owner")
    )

    assert outsider == dict.fromkeys(outsider, 0)
    public = sum(not job.recording.private for job in jobs)
    assert member["recordings"] == member["search hits"] == member["audio"] == public
    assert member["exports"] == 5 * public
    assert owner["recordings"] == owner["search hits"] == owner["audio"] == RECORDINGS
    assert owner["exports"] == 5 * RECORDINGS


@pytest.mark.django_db(transaction=True)
def test_websocket_events_reach_only_those_who_may_see_them(team_world):
    jobs = team_world["jobs"]
    private = sum(job.recording.private for job in jobs)

    listeners = ("owner", "member", "outsider")
    cookies = {name: session_cookie(team_world[name]) for name in listeners}

    async def count_events() -> dict[str, int]:
        sockets = {}
        for name in listeners:
            headers = [HOST, ORIGIN, cookies[name]]
            sockets[name] = WebsocketCommunicator(application, "/ws/jobs/", headers=headers)
            assert (await sockets[name].connect())[0]
        for _ in range(EVENTS_PER_JOB):
            for job in jobs:
                await database_sync_to_async(progress.publish)(job)
        counts = {}
        for name, socket in sockets.items():
            counts[name] = 0
            while not await socket.receive_nothing(timeout=0.3):
                event = await socket.receive_json_from()
                assert event["team"] == team_world["team"].pk
                counts[name] += 1
            await socket.disconnect()
        return counts

    counts = async_to_sync(count_events)()
    sent = EVENTS_PER_JOB * RECORDINGS
    assert sent >= 100
    # The owner (who uploaded them all) hears each event once, not once per group it is in.
    assert counts == {
        "owner": sent,
        "member": EVENTS_PER_JOB * (RECORDINGS - private),
        "outsider": 0,
    }


@pytest.mark.django_db(transaction=True)
def test_a_removed_member_stops_hearing_the_team_at_once_on_an_open_socket(team_world):
    """Removed while its socket is open, the member hears none of the team's next events and
    reaches none of its objects; promoted, a member hears the private ones too. No reconnect."""
    jobs, team, owner = team_world["jobs"], team_world["team"], team_world["owner"]
    member = team_world["member"]
    public_jobs = [job for job in jobs if not job.recording.private]
    membership = Membership.objects.get(team=team, user=member)
    headers = [HOST, ORIGIN, session_cookie(member)]

    async def heard(socket: WebsocketCommunicator) -> int:
        for job in jobs:
            await database_sync_to_async(progress.publish)(job)
        count = 0
        while not await socket.receive_nothing(timeout=0.3):
            await socket.receive_json_from()
            count += 1
        return count

    async def scenario() -> list[int]:
        socket = WebsocketCommunicator(application, "/ws/jobs/", headers=headers)
        assert (await socket.connect())[0]
        counts = [await heard(socket)]
        await database_sync_to_async(member_set_role)(
            membership=membership, role=Role.ADMIN, by=owner
        )
        await socket.receive_nothing(timeout=0.3)  # the socket regroups
        counts.append(await heard(socket))
        await database_sync_to_async(member_remove)(membership=membership, by=owner)
        await socket.receive_nothing(timeout=0.3)
        counts.append(await heard(socket))
        await socket.disconnect()
        return counts

    assert async_to_sync(scenario)() == [len(public_jobs), RECORDINGS, 0]
    after = reachable(api_client_for(member), jobs, team)
    assert after == dict.fromkeys(after, 0)
