"""Fairness with a real worker: one user's batch does not hold back a colleague's single file
(the bound is transcription.queue's: at most S of the batch start after the colleague's job is
queued and before it, S being the worker's slots)."""

import pytest
from django.conf import settings

from tests.conftest import TINY_MODEL, wait_until
from tests.factories import JobFactory, RecordingFactory, UserFactory
from transcription import broker
from transcription.models import Job, JobStatus

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BATCH = 30
CLIP = "en_speechrecognition_english.wav"  # "one two three", under two seconds


def test_a_colleagues_single_file_starts_before_more_than_a_slots_worth_of_a_batch(
    celery_worker,
):
    slots = settings.WORKER_SLOTS  # the session's worker: its --concurrency
    alice, bob = UserFactory(username="batch-alice"), UserFactory(username="single-bob")
    clip = RecordingFactory(owner=alice, audio=CLIP)
    batch = [JobFactory(recording=clip, model=TINY_MODEL, language="zh") for _ in range(BATCH)]
    batch_jobs = Job.objects.filter(pk__in=[job.pk for job in batch])
    try:
        for job in batch:
            broker.enqueue(job)
        # The worker is busy with Alice's batch when Bob's file comes in.
        wait_until(lambda: batch_jobs.filter(status=JobStatus.RUNNING).exists(), 90)
        single = JobFactory(recording__owner=bob, recording__audio=CLIP, model=TINY_MODEL,
                            language="zh")  # fmt: skip
        broker.enqueue(single)
        wait_until(lambda: Job.objects.get(pk=single.pk).started_at is not None, 60)
        started = Job.objects.get(pk=single.pk).started_at
        started_between = batch_jobs.filter(
            started_at__gt=single.queued_at, started_at__lt=started
        ).count()
        not_started = batch_jobs.filter(started_at__isnull=True).count()
    finally:
        # The rest of the batch is not run: the worker is the session's.
        for job in batch_jobs.filter(status=JobStatus.QUEUED):
            job.request_cancel()
        wait_until(lambda: not Job.objects.filter(status=JobStatus.RUNNING).exists(), 60)

    assert single.priority == 0
    assert started_between <= slots, f"{started_between} of the batch went first"
    # Without the bands Bob would have waited for the whole batch: most of it was still waiting.
    assert not_started >= BATCH - 2 * slots - 1
