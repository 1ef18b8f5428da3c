"""A job whose worker went silent is taken over, and runs once: Celery beat's janitor requeues the
jobs of a worker that died for good, and a worker that lost its job writes nothing more to it."""

import sys
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from portal.celery import app
from tests.conftest import TINY_MODEL, _start, wait_for_job_end, wait_until
from tests.factories import JobFactory
from transcription.models import Job, JobStage, JobStatus
from transcription.tasks import transcribe_job

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_jobs_and_upkeep_each_reach_their_own_queue_only(celery_worker, settings):
    # kombu's Redis transport keeps the bindings the worker declared: routing key -> queue.
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    exchange = settings.CELERY_TASK_DEFAULT_QUEUE
    bindings = broker.smembers(f"_kombu.binding.{exchange}")
    routes = sorted(tuple(binding.decode().split("\x06\x16")[::2]) for binding in bindings)

    assert routes == [(exchange, exchange), (settings.MAINTENANCE_QUEUE,) * 2]


def running_job(owner, *, worker: str, audio: str, heartbeat_age_s: float) -> Job:
    job = JobFactory(
        recording__owner=owner, recording__audio=audio, model=TINY_MODEL, language="en"
    )
    assert job.claim(worker=worker)
    Job.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=heartbeat_age_s)
    )
    return job


def test_beat_requeues_the_jobs_of_a_worker_that_stopped_answering(
    process_env, celery_worker, alice, settings, tmp_path
):
    stale = settings.JOB_STALE_AFTER_S + 60
    clip = "en_speechrecognition_english.wav"
    orphan = running_job(alice, worker="gpu9@gone-host", audio=clip, heartbeat_age_s=stale)
    # Stale too, but its worker answers a ping: only slow (a long download, say), so it keeps it.
    slow = running_job(alice, worker=celery_worker, audio=clip, heartbeat_age_s=stale)
    log = tmp_path / "beat.log"
    command = [sys.executable, "-m", "celery", "-A", "portal", "beat", "--loglevel=INFO",
               "--schedule", str(tmp_path / "schedule")]  # fmt: skip
    beat = _start(command, {**process_env, "JOB_JANITOR_INTERVAL_S": "1"}, log)
    wait_for_job_end(orphan, beat, timeout_s=120)

    assert orphan.status == JobStatus.SUCCEEDED, orphan.error
    assert (orphan.worker, orphan.attempts) == (celery_worker, 2)
    assert orphan.segments.exists()
    slow.refresh_from_db()
    assert (slow.status, slow.worker, slow.attempts) == (JobStatus.RUNNING, celery_worker, 1)
    assert "Sending due task requeue-stalled-jobs" in log.read_text()


def test_a_worker_whose_job_was_taken_over_stops_and_writes_nothing_more(
    celery_worker, alice, settings
):
    job = JobFactory(
        recording__owner=alice,
        recording__audio="long_pauses_70s.wav",
        model="whisper-base",
        language="zh",
    )
    transcribe_job.delay(job.pk)
    wait_until(lambda: Job.objects.get(pk=job.pk).stage == JobStage.TRANSCRIBING, timeout_s=120)

    # The worker is taken for dead while it transcribes; another claim takes the job over.
    settings.JOB_STALE_AFTER_S = 0
    usurped = Job.objects.get(pk=job.pk)
    assert usurped.claim(worker="usurper")

    def worker_idle() -> bool:
        active = app.control.inspect(destination=[celery_worker], timeout=2).active() or {}
        return active.get(celery_worker) == []

    wait_until(worker_idle, timeout_s=120)
    job.refresh_from_db()
    assert (job.status, job.worker, job.attempts) == (JobStatus.RUNNING, "usurper", 2)
    assert (job.stage, job.progress, job.text, job.error) == (JobStage.DECODING, 0, "", "")
    assert not job.segments.exists()
