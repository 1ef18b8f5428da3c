"""The fair queue: priority bands from what an owner and a workspace already have waiting, the
order the broker serves them in, and each waiting job's position and expected start."""

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.celery import app as celery_app
from tests.conftest import BROKEN_MODEL, api_client_for
from tests.factories import (
    JobFactory,
    MembershipFactory,
    SucceededJobFactory,
    TeamFactory,
    UserFactory,
)
from tests.test_websocket import connect, session_headers
from transcription import broker, queue, runner, services
from transcription.models import Job, JobStatus

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


def queued(owner, **fields) -> Job:
    """A job of `owner` sent to the broker, as an upload, retry or requeue sends it."""
    job = JobFactory(recording__owner=owner, **fields)
    broker.enqueue(job)
    return job


def test_an_owners_nth_active_job_goes_in_band_n_minus_one_up_to_the_last(alice, bob, job_queue):
    alices = [queued(alice) for _ in range(queue.LAST_BAND + 3)]
    bobs = queued(bob)

    assert [job.priority for job in alices] == [*range(queue.LAST_BAND), *[queue.LAST_BAND] * 3]
    assert bobs.priority == 0  # a colleague's single file is not behind Alice's batch
    assert all(job.queued_at is not None for job in [*alices, bobs])
    stored = Job.objects.get(pk=alices[4].pk)
    assert (stored.priority, stored.queued_at) == (4, alices[4].queued_at)


def test_running_jobs_count_and_finished_ones_do_not(alice, job_queue):
    JobFactory(recording__owner=alice, status=JobStatus.RUNNING)
    SucceededJobFactory(recording__owner=alice)
    JobFactory(recording__owner=alice, status=JobStatus.FAILED)

    assert queued(alice).priority == 1


def test_a_teams_jobs_count_for_each_of_its_members(alice, bob, job_queue):
    team = TeamFactory()
    for member in (alice, bob):
        MembershipFactory(team=team, user=member)
    for _ in range(3):
        queued(alice, recording__team=team)

    in_team = queued(bob, recording__team=team)
    personal = queued(bob)

    assert in_team.priority == 3  # the team already has three waiting
    assert personal.priority == 1  # Bob's own: the team job he just queued


def test_a_requeued_job_is_placed_again_by_what_is_waiting_now(alice, job_queue):
    first, second = queued(alice), queued(alice)
    first.claim(worker="w")
    assert first.release()
    broker.enqueue(first)

    assert first.priority == 1  # behind nothing of others, but Alice has the second waiting
    assert first.queued_at > second.queued_at


def test_every_band_has_its_own_broker_list_and_the_janitor_sees_them_all(alice, job_queue):
    jobs = [queued(alice) for _ in range(queue.LAST_BAND + 1)]

    assert broker.jobs_with_messages() == {job.pk for job in jobs}
    with celery_app.connection_for_read() as connection:
        channel = connection.default_channel
        lengths = [channel.client.llen(channel._q_for_pri(job_queue, b)) for b in range(10)]
        # Served lowest band first, each band first in, first out.
        served = [channel.basic_get(job_queue, no_ack=True) for _ in jobs]
    assert lengths == [1] * 10
    assert [message.payload[0][0] for message in served] == [job.pk for job in jobs]


def test_waiting_jobs_run_by_band_then_by_when_they_were_sent(alice, bob, job_queue):
    alice_first, alice_second, alice_third = queued(alice), queued(alice), queued(alice)
    bob_first = queued(bob)
    JobFactory(status=JobStatus.RUNNING)

    order = list(queue.waiting_jobs())

    assert [job.pk for job in order] == [alice_first.pk, bob_first.pk, alice_second.pk,
                                         alice_third.pk]  # fmt: skip
    assert [job.position for job in order] == [1, 2, 3, 4]
    assert [job.audio_ahead_s for job in order] == [0, 12.5, 25, 37.5]


def measured_fleet(*, speed: float, jobs: int = 3) -> None:
    """Succeeded jobs of 12.5 s of audio that took 12.5 / speed seconds each."""
    now = timezone.now()
    for _ in range(jobs):
        SucceededJobFactory(started_at=now - timedelta(seconds=12.5 / speed), finished_at=now)


def test_expected_start_is_the_work_ahead_at_the_measured_throughput(alice, bob, job_queue):
    measured_fleet(speed=5)  # 5 audio seconds per second each
    running = JobFactory(status=JobStatus.RUNNING, progress=60, recording__duration_s=100)
    first, second = queued(alice), queued(alice, recording__duration_s=30)
    third = queued(bob)

    places = queue.places([first, second, third, running])

    # One job running: the fleet does 5 audio s/s. Ahead of all: 40 s left of the running one.
    assert places == {
        first.pk: queue.Place(position=1, eta_s=8.0),
        third.pk: queue.Place(position=2, eta_s=10.5),
        second.pk: queue.Place(position=3, eta_s=13.0),
    }
    totals = queue.totals()
    assert (totals.jobs, totals.audio_s, totals.drain_eta_s) == (3, 55.0, 19.0)
    assert totals.throughput == queue.Throughput(5.0, 1, 40.0)


def test_with_nothing_measured_yet_there_is_a_position_and_no_estimate(alice, job_queue):
    job = queued(alice)

    assert queue.places([job]) == {job.pk: queue.Place(position=1, eta_s=None)}
    assert queue.totals().drain_eta_s is None


def test_places_of_many_jobs_take_the_same_queries_as_of_one(alice, job_queue):
    measured_fleet(speed=2)
    one = [queued(alice)]
    with CaptureQueriesContext(connection) as for_one:
        queue.places(one)
    many = [queued(alice) for _ in range(20)]
    with CaptureQueriesContext(connection) as for_many:
        assert len(queue.places(many)) == 20

    assert len(for_many) == len(for_one) == 3


def test_the_api_shows_a_waiting_jobs_position_and_none_for_others(alice, bob, job_queue):
    measured_fleet(speed=5)
    ahead, mine = queued(bob), queued(alice)
    done = SucceededJobFactory(recording__owner=alice)
    alice_api = api_client_for(alice)

    detail = alice_api.get(f"/api/jobs/{mine.pk}/").json()
    listed = {job["id"]: job for job in alice_api.get("/api/jobs/").json()["results"]}
    recordings = alice_api.get("/api/recordings/").json()["results"]

    assert (detail["queue_position"], detail["eta_s"]) == (2, 2.5)
    assert (listed[mine.pk]["queue_position"], listed[done.pk]["queue_position"]) == (2, None)
    assert listed[done.pk]["eta_s"] is None
    latest = {r["id"]: r["latest_job"] for r in recordings}
    assert latest[mine.recording_id]["queue_position"] == 2
    assert ahead.pk not in listed


def test_staff_read_the_queue_in_the_order_it_runs_with_its_totals(alice, bob, job_queue):
    measured_fleet(speed=5)
    team = TeamFactory(name="Research")
    alice_first = queued(alice, recording__team=team)
    alice_second = queued(alice)
    bob_first = queued(bob, recording__duration_s=None)
    staff = api_client_for(UserFactory(is_staff=True))

    body = staff.get("/api/queue/").json()

    assert [(j["id"], j["position"], j["priority"]) for j in body["results"]] == [
        (alice_first.pk, 1, 0),
        (bob_first.pk, 2, 0),
        (alice_second.pk, 3, 1),
    ]
    first = body["results"][0]
    assert (first["owner"], first["workspace"], first["audio_s"]) == ("alice", "Research", 12.5)
    assert (body["results"][1]["workspace"], body["results"][1]["audio_s"]) == ("personal", None)
    assert first["queued_at"] and body["results"][2]["eta_s"] == 2.5
    assert body["totals"] == {
        "jobs": 3,
        "audio_hours": round(25 / 3600, 4),
        "drain_eta_s": 5.0,
        "throughput_audio_s_per_s": 5.0,
        "running_jobs": 0,
    }
    with CaptureQueriesContext(connection) as for_three:
        staff.get("/api/queue/")
    for _ in range(5):
        queued(bob)
    with CaptureQueriesContext(connection) as for_eight:
        assert staff.get("/api/queue/").json()["count"] == 8
    assert len(for_eight) == len(for_three)


async def in_thread(work: Callable[[], object]) -> None:
    """Database work from a socket test, in a thread that closes its connection after."""

    def run() -> None:
        try:
            work()
        finally:
            connection.close()

    await asyncio.get_running_loop().run_in_executor(None, run)


@pytest.mark.django_db(transaction=True)
def test_when_a_job_is_claimed_or_leaves_those_waiting_behind_it_are_told(settings, job_queue):
    settings.ASR_MODEL_SOURCES = {BROKEN_MODEL: "/no-such-dir"}  # the claimed job fails at once
    ahead, claimed, behind = (UserFactory(username=name) for name in ("carol", "bob", "alice"))
    carols, bobs = queued(ahead), queued(claimed, model=BROKEN_MODEL)
    queued(behind)
    sockets = {user.username: session_headers(user) for user in (ahead, claimed, behind)}

    async def listen() -> dict[str, list[dict]]:
        connected = {name: connect(headers) for name, headers in sockets.items()}
        for socket in connected.values():
            assert (await socket.connect())[0]
        await in_thread(lambda: runner.run_job(bobs.pk, worker="w"))
        await in_thread(lambda: services.job_cancel(job=carols))
        heard = {}
        for name, socket in connected.items():
            heard[name] = []
            while not await socket.receive_nothing(timeout=0.3):
                event = await socket.receive_json_from()
                if "queue" in event:
                    heard[name].append(event)
            await socket.disconnect()
        return heard

    heard = async_to_sync(listen)()

    moved = {"queue": "moved", "team": None}
    assert heard == {"alice": [moved, moved], "bob": [], "carol": []}
