"""Jobs and API tokens in Django's admin: a job's state and segments are shown, never edited,
and a token's key is never shown whole."""

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token

from tests.factories import SucceededJobFactory, UserFactory
from transcription.models import Job, JobStatus

pytestmark = pytest.mark.django_db

JOB_STATE = ["status", "stage", "progress", "attempts", "worker", "cancel_requested"]


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def job() -> Job:
    return SucceededJobFactory(attempts=1, worker="gpu1@host")


def test_the_job_page_has_no_input_for_its_state_or_segments(staff_client, job):
    page = staff_client.get(reverse("admin:transcription_job_change", args=[job.pk]))

    html = page.content.decode()
    assert page.status_code == 200
    assert "gpu1@host" in html  # shown
    for field in JOB_STATE:
        assert f'name="{field}"' not in html
    assert 'name="segments-0-text"' not in html
    assert job.segments.first().text in html


def test_a_post_changes_neither_the_jobs_state_nor_its_segments(staff_client, job):
    segments = list(job.segments.values_list("index", "text"))
    form = {
        "recording": job.recording_id,
        "owner": job.owner_id,
        "model": job.model,
        "language": job.language,
        "itn": "on",
        "text": job.text,
        "created_at_0": job.created_at.strftime("%Y-%m-%d"),
        "created_at_1": job.created_at.strftime("%H:%M:%S"),
        "status": JobStatus.QUEUED,
        "stage": "decoding",
        "progress": "3",
        "attempts": "0",
        "worker": "intruder",
        "segments-TOTAL_FORMS": "1",
        "segments-INITIAL_FORMS": "0",
        "segments-0-index": "99",
        "segments-0-start": "0",
        "segments-0-end": "1",
        "segments-0-text": "forged",
    }

    response = staff_client.post(reverse("admin:transcription_job_change", args=[job.pk]), form)

    assert response.status_code == 302  # saved: the fields it may change
    job.refresh_from_db()
    assert (job.status, job.stage, job.progress, job.attempts, job.worker) == (
        JobStatus.SUCCEEDED,
        "finalizing",
        100,
        1,
        "gpu1@host",
    )
    assert list(job.segments.values_list("index", "text")) == segments


def test_the_token_list_shows_a_prefix_of_the_key_never_the_key(staff_client):
    token = Token.objects.create(user=UserFactory(username="alice"))

    page = staff_client.get(reverse("admin:authtoken_tokenproxy_changelist"))

    html = page.content.decode()
    assert page.status_code == 200
    assert f"{token.key[:4]}…" in html
    assert "alice" in html
    assert token.key not in html


@pytest.mark.parametrize("page", ["add", "change", "delete", "history"])
def test_staff_get_no_page_of_one_token(staff_client, page):
    token = Token.objects.create(user=UserFactory(username="alice"))
    args = [] if page == "add" else [token.pk]

    response = staff_client.get(reverse(f"admin:authtoken_tokenproxy_{page}", args=args))

    assert response.status_code == 403
    assert token.key not in response.content.decode()
