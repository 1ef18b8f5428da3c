"""A re-run with other choices (validated as at upload), and the e-mail a long job's end sends
its owner past the threshold they set (none by default)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Preferences
from tests.factories import JobFactory, SucceededJobFactory
from transcription import notifications, runner
from transcription.models import Job, JobStatus

pytestmark = pytest.mark.django_db


def test_a_rerun_takes_another_model_language_hotwords_and_itn(
    alice, alice_api, django_capture_on_commit_callbacks, job_queue, tiny_model_enabled
):
    job = SucceededJobFactory(recording__owner=alice, language="auto", hotwords="", itn=True)
    choices = {"model": tiny_model_enabled, "language": "zh", "hotwords": " Kenobi \n\nVoxa ",
               "itn": False}  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post(f"/api/jobs/{job.pk}/retry/", choices, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["model"], body["language"]) == ("queued", tiny_model_enabled, "zh")
    assert (body["hotwords"], body["itn"]) == (["Kenobi", "Voxa"], False)
    job.refresh_from_db()
    assert (job.model, job.language, job.hotwords, job.itn) == (
        tiny_model_enabled, "zh", "Kenobi\nVoxa", False
    )  # fmt: skip


def test_a_rerun_without_choices_keeps_the_jobs(alice, alice_api, job_queue):
    job = SucceededJobFactory(recording__owner=alice, language="en", hotwords="Kenobi", itn=False)

    body = alice_api.post(f"/api/jobs/{job.pk}/retry/").json()

    assert (body["model"], body["language"], body["hotwords"], body["itn"]) == (
        "whisper-base", "en", ["Kenobi"], False
    )  # fmt: skip


@pytest.mark.parametrize(
    ("choices", "field"),
    [
        ({"model": "no-such-model"}, "model"),
        ({"language": "xx"}, "language"),
        # paraformer-zh transcribes Mandarin only: the job's English is refused with it.
        ({"model": "paraformer-zh"}, "language"),
        ({"hotwords": "x" * 20_001}, "hotwords"),
        ({"itn": "perhaps"}, "itn"),
    ],
)
def test_a_rerun_with_a_choice_upload_would_refuse_is_refused(
    alice, alice_api, settings, choices, field
):
    settings.ASR_ENABLED_MODELS = ["whisper-base", "paraformer-zh"]
    job = SucceededJobFactory(recording__owner=alice, language="en")

    response = alice_api.post(f"/api/jobs/{job.pk}/retry/", choices, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert Job.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED  # not re-run


def ended_job(owner, minutes: float) -> Job:
    finished = timezone.now()
    return SucceededJobFactory(
        recording__owner=owner,
        recording__name="board meeting.wav",
        started_at=finished - timedelta(minutes=minutes),
        finished_at=finished,
    )


@pytest.mark.parametrize(
    ("threshold", "ran_minutes", "sent"),
    [(10, 12, True), (10, 9, False), (None, 120, False)],
    ids=["long", "short", "off"],
)
def test_a_job_that_ran_past_the_owners_threshold_is_emailed(
    alice, settings, mailoutbox, django_capture_on_commit_callbacks, threshold, ran_minutes, sent
):
    settings.PUBLIC_URL = "https://voxa.example.com"
    alice.email = "alice@example.com"
    alice.save()
    Preferences.objects.create(user=alice, email_after_minutes=threshold)
    job = ended_job(alice, ran_minutes)

    with django_capture_on_commit_callbacks(execute=True):
        notifications.email_when_long(job)

    assert len(mailoutbox) == (1 if sent else 0)
    if sent:
        (mail,) = mailoutbox
        assert mail.to == ["alice@example.com"]
        assert "board meeting.wav" in mail.subject
        assert f"https://voxa.example.com/recordings/{job.recording_id}/" in mail.body


def test_without_preferences_no_email_is_sent(alice, settings, mailoutbox):
    settings.PUBLIC_URL = "https://voxa.example.com"
    notifications._send_if_long(ended_job(alice, 600))

    assert mailoutbox == []


def test_a_mail_that_cannot_be_sent_leaves_the_job_alone(alice, settings, caplog):
    settings.PUBLIC_URL = "https://voxa.example.com"
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens there
    alice.email = "alice@example.com"
    alice.save()
    Preferences.objects.create(user=alice, email_after_minutes=1)
    job = ended_job(alice, 5)

    notifications._send_if_long(job)  # does not raise

    assert "job-ended e-mail was not sent" in caplog.text
    assert Job.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED


def test_the_options_describe_each_enabled_model_with_its_recent_speed(alice_api, settings):
    settings.ASR_ENABLED_MODELS = ["whisper-base", "sensevoice-small"]
    for speed in (10.0, 30.0, 20.0):
        SucceededJobFactory(model="sensevoice-small", speed_x=speed)
    JobFactory(model="sensevoice-small", speed_x=99.0)  # not finished: not counted

    info = alice_api.get("/api/options/").json()["model_info"]

    assert set(info) == {"whisper-base", "sensevoice-small"}
    assert "Chinese" in info["sensevoice-small"]["description"]
    assert info["sensevoice-small"]["speed_x"] == 20.0
    assert info["whisper-base"]["speed_x"] is None


def test_the_notifications_page_sets_and_clears_the_threshold(alice, client):
    client.force_login(alice)

    assert client.post("/accounts/notifications/", {"email_after_minutes": "45"}).status_code == 302
    assert Preferences.objects.get(user=alice).email_after_minutes == 45
    refused = client.post("/accounts/notifications/", {"email_after_minutes": "-1"})
    assert refused.status_code == 200 and refused.context["form"].errors
    client.post("/accounts/notifications/", {"email_after_minutes": ""})
    assert Preferences.objects.get(user=alice).email_after_minutes is None


def test_the_worker_emails_when_it_ends_a_long_job(
    alice, settings, mailoutbox, django_capture_on_commit_callbacks
):
    """The end the worker writes (here: given up after too many attempts) sends the mail."""
    settings.PUBLIC_URL = "https://voxa.example.com"
    alice.email = "alice@example.com"
    alice.save()
    Preferences.objects.create(user=alice, email_after_minutes=15)
    job = JobFactory(
        recording__owner=alice,
        status=JobStatus.RUNNING,
        worker="w1@host",
        attempts=settings.JOB_MAX_ATTEMPTS + 1,
        started_at=timezone.now() - timedelta(minutes=20),
    )

    with django_capture_on_commit_callbacks(execute=True):
        runner._run_claimed(job)

    assert Job.objects.get(pk=job.pk).status == JobStatus.FAILED
    (mail,) = mailoutbox
    assert "giving up" in mail.body
