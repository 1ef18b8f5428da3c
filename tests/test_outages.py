"""Nothing is lost when Redis or PostgreSQL is down: a notification that cannot be sent never
fails, strands or hides a job; an enqueue the broker refuses leaves the job queued with its file,
for the janitor; the web answers 503 with a clear message, never a 500 traceback."""

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.test import RequestFactory
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from rest_framework.authtoken.models import Token

from operations import supervision
from portal.celery import app as celery_app
from portal.errors import SERVER_ERROR_MESSAGE, server_error
from tests.audio_files import speech
from tests.conftest import BROKEN_MODEL, TINY_MODEL, free_port, running_web
from tests.factories import JobFactory
from transcription import broker, runner
from transcription.models import Job, JobStatus

DEAD_REDIS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
    }
}


@pytest.fixture
def dead_channel_layer(settings) -> None:
    settings.CHANNEL_LAYERS = DEAD_REDIS


@pytest.mark.django_db
def test_cancel_and_retry_answer_though_progress_cannot_be_sent(
    alice, alice_api, dead_channel_layer, django_capture_on_commit_callbacks, job_queue
):
    queued = JobFactory(recording__owner=alice)
    failed = JobFactory(recording__owner=alice, status=JobStatus.FAILED, error="boom")

    with django_capture_on_commit_callbacks(execute=True):
        cancelled = alice_api.post(f"/api/jobs/{queued.pk}/cancel/")
        retried = alice_api.post(f"/api/jobs/{failed.pk}/retry/")

    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    assert (retried.status_code, retried.json()["status"]) == (200, "queued")
    assert broker.jobs_with_messages() == {failed.pk}


@pytest.mark.django_db
def test_a_notification_that_cannot_be_sent_does_not_strand_the_job(
    settings, dead_channel_layer, django_capture_on_commit_callbacks
):
    settings.ASR_MODEL_SOURCES = {BROKEN_MODEL: "/no-such-dir"}
    job = JobFactory(model=BROKEN_MODEL)

    with django_capture_on_commit_callbacks(execute=True):
        runner.run_job(job.pk, worker="w")

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert BROKEN_MODEL in job.error


@pytest.mark.django_db
def test_the_janitor_sends_again_only_the_queued_jobs_the_broker_holds_no_message_for(job_queue):
    waiting, delivered, unsent, running = JobFactory(), JobFactory(), JobFactory(), JobFactory()
    running.claim(worker="w")
    broker.enqueue(delivered)  # first in, first taken
    broker.enqueue(waiting)
    with celery_app.connection_for_read() as connection:
        # Taken by a worker, not acknowledged yet: kombu keeps it in its `unacked` hash.
        channel = connection.default_channel
        taken = channel.basic_get(job_queue, no_ack=False)
        try:
            assert [job.pk for job in supervision.jobs_enqueue_unsent()] == [unsent.pk]
            # A backlog gets no second message: every queued job has one now.
            assert supervision.jobs_enqueue_unsent() == []
        finally:
            channel.basic_ack(taken.delivery_tag)
    assert broker.jobs_with_messages() == {waiting.pk, unsent.pk}


@pytest.mark.django_db
def test_the_janitor_sends_again_a_job_whose_worker_died_between_taking_and_claiming_it(
    job_queue, settings
):
    """SIGKILL between delivery and claim: kombu keeps the message in `unacked` until the
    visibility timeout (hours), while the job waits queued for it."""
    settings.JOB_CLAIM_GRACE_S = 0.5
    taken_by_the_dead = JobFactory()
    broker.enqueue(taken_by_the_dead)
    with celery_app.connection_for_read() as connection:
        channel = connection.default_channel
        taken = channel.basic_get(job_queue, no_ack=False)
        try:
            assert supervision.jobs_enqueue_unsent() == []  # its worker may still claim it
            time.sleep(1)
            assert [job.pk for job in supervision.jobs_enqueue_unsent()] == [taken_by_the_dead.pk]
        finally:
            channel.basic_ack(taken.delivery_tag)
    assert broker.jobs_with_messages() == {taken_by_the_dead.pk}


def post(url: str, *, token: str, files: dict | None = None) -> tuple[int, str]:
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    body = b"{}"
    if files:
        headers["Content-Type"] = MULTIPART_CONTENT
        body = encode_multipart(BOUNDARY, files)
    return request(urllib.request.Request(url, data=body, headers=headers, method="POST"))


def get(url: str, **headers: str) -> tuple[int, str]:
    return request(urllib.request.Request(url, headers=headers))


def request(req: urllib.request.Request) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def dead_url(scheme: str) -> str:
    return f"{scheme}://127.0.0.1:{free_port()}"  # nothing listens there


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_with_redis_down_an_upload_keeps_its_job_queued_and_the_janitor_sends_it_later(
    process_env, alice, job_queue, tmp_path
):
    token = Token.objects.create(user=alice).key
    failed = JobFactory(recording__owner=alice, status=JobStatus.FAILED, error="boom")
    env = {**process_env, "REDIS_URL": f"{dead_url('redis')}/0", "ASR_MODEL": TINY_MODEL}
    with running_web(env, tmp_path / "web.log") as (url, _):
        clip = speech("en_speechrecognition_english.wav")
        with clip.open("rb") as audio:
            status, body = post(f"{url}/api/recordings/", token=token, files={"files": audio})
        assert status == 201, body
        retry_status, retry_body = post(f"{url}/api/jobs/{failed.pk}/retry/", token=token)
        assert retry_status == 200, retry_body

    uploaded = Job.objects.get(pk=json.loads(body)["jobs"][0]["id"])
    assert uploaded.status == JobStatus.QUEUED
    assert uploaded.queued_at is not None  # its place in the queue, though its message is not
    assert (Path(settings.MEDIA_ROOT) / uploaded.recording.file.name).is_file()
    assert Job.objects.get(pk=failed.pk).status == JobStatus.QUEUED
    # Redis is back (the tests' own): the janitor finds both without a message, and sends them.
    assert {job.pk for job in supervision.jobs_enqueue_unsent()} == {uploaded.pk, failed.pk}
    assert broker.jobs_with_messages() == {uploaded.pk, failed.pk}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_with_postgresql_down_the_web_answers_503_with_a_clear_message(process_env, tmp_path):
    env = {**process_env, "DATABASE_URL": f"{dead_url('postgres')}/voxa"}
    with running_web(env, tmp_path / "web.log") as (url, _):
        api_status, api_body = get(f"{url}/api/jobs/", Authorization="Token 0123456789abcdef")
        session = f"{settings.SESSION_COOKIE_NAME}=a-session-the-database-would-know"
        page_status, page_body = get(f"{url}/history/", Cookie=session)
        login_status, _ = get(f"{url}/accounts/login/")

    assert api_status == 503
    assert "temporarily unavailable" in json.loads(api_body)["detail"]
    assert page_status == 503
    assert "temporarily unavailable" in page_body and "Traceback" not in page_body
    assert 'data-testid="error-page"' in page_body  # the site's styled page, without the database
    assert login_status == 200  # what needs no database still works


def answer_while_handling(error_source, path: str):
    """What the portal answers for an exception that no view handled, raised for real."""
    try:
        error_source()
    except Exception:
        return server_error(RequestFactory().get(path))


def test_an_unanswering_redis_is_a_503_and_other_errors_a_plain_500():
    dead_redis = redis.Redis(port=free_port()).ping

    api = answer_while_handling(dead_redis, "/api/jobs/")
    page = answer_while_handling(dead_redis, "/history/")
    bug = answer_while_handling(lambda: 1 / 0, "/api/jobs/")

    assert (api.status_code, api["Retry-After"]) == (503, "60")
    assert "temporarily unavailable" in json.loads(api.content)["detail"]
    assert page.status_code == 503 and b"temporarily unavailable" in page.content
    assert b'data-testid="error-page"' in page.content
    assert (bug.status_code, json.loads(bug.content)) == (500, {"detail": SERVER_ERROR_MESSAGE})
