"""The job's state machine: claiming counts attempts, a dead worker's job is taken over, never
doubled."""

from datetime import timedelta

import pytest
from django.utils import timezone

from operations import supervision
from tests.factories import JobFactory
from transcription import broker, runner, services
from transcription.models import Job, JobLost, JobStatus, Segment

pytestmark = pytest.mark.django_db


def test_claim_takes_a_queued_job_once():
    job = JobFactory()

    assert job.claim(worker="w1")
    assert (job.status, job.attempts, job.worker) == (JobStatus.RUNNING, 1, "w1")
    assert not Job.objects.get(pk=job.pk).claim(worker="w2")


def test_a_running_job_with_a_stale_heartbeat_is_taken_over(settings):
    job = JobFactory()
    job.claim(worker="dead")
    Job.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_S + 1)
    )

    assert job.claim(worker="alive")
    assert (job.worker, job.attempts) == ("alive", 2)


def test_finished_and_cancelled_jobs_are_never_claimed():
    for status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED):
        assert not JobFactory(status=status).claim(worker="w")


def test_job_past_max_attempts_fails_with_its_reason(settings):
    settings.JOB_MAX_ATTEMPTS = 2
    job = JobFactory(attempts=2)

    runner.run_job(job.pk, worker="w")

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "stopped 2 times" in job.error


def test_missing_job_ends_quietly():
    runner.run_job(987654, worker="w")


def test_storing_a_transcript_replaces_an_earlier_attempts_segments():
    job = JobFactory()
    Segment.objects.create(job=job, index=0, start=0, end=1, text="left over")
    job.claim(worker="w")
    services.job_store_transcript(
        job=job, language="en", text="b c", segments=[(0, 1, "b", ""), (1, 2, "c", "")]
    )

    assert list(Segment.objects.filter(job=job).values_list("index", "text")) == [
        (0, "b"),
        (1, "c"),
    ]
    assert (job.status, job.text, job.progress) == (JobStatus.SUCCEEDED, "b c", 100)


def test_progress_is_written_at_most_once_a_second_per_stage(settings):
    settings.PROGRESS_MIN_INTERVAL_S = 60
    job = JobFactory()
    job.claim(worker="w")
    reporter = runner.JobReporter(job)

    reporter("transcribing", 10.0)
    reporter("transcribing", 20.0)  # too soon: not written
    stored_after_burst = Job.objects.get(pk=job.pk).progress
    reporter("finalizing", 100.0)  # a new stage is always written

    assert stored_after_burst == 10.0
    assert Job.objects.get(pk=job.pk).stage == "finalizing"


def test_a_restarted_worker_requeues_the_jobs_it_left_running(
    django_capture_on_commit_callbacks, job_queue
):
    orphan, elsewhere = JobFactory(), JobFactory()
    orphan.claim(worker="gpu1@host")
    elsewhere.claim(worker="gpu2@host")

    with django_capture_on_commit_callbacks(execute=True):
        requeued = supervision.jobs_requeue_orphaned(worker="gpu1@host")

    assert requeued == [orphan]
    assert broker.jobs_with_messages() == {orphan.pk}
    orphan.refresh_from_db()
    assert (orphan.status, orphan.attempts, orphan.worker) == (JobStatus.QUEUED, 1, "")
    assert orphan.claim(worker="gpu1@host")
    assert orphan.attempts == 2
    assert Job.objects.get(pk=elsewhere.pk).status == JobStatus.RUNNING


def test_a_job_past_its_time_limit_is_stopped_with_that_reason(settings):
    settings.JOB_TIME_BASE_S, settings.JOB_TIME_PER_AUDIO_S = 0, 0.0
    job = JobFactory()
    job.claim(worker="w")
    reporter = runner.JobReporter(job)
    reporter("downloading_model", 0.0)  # a download does not start the clock
    assert reporter.deadline is None

    reporter("decoding", 0.0)

    with pytest.raises(runner.JobTimedOut, match="0-minute limit"):
        reporter.should_cancel()


def test_time_limit_scales_with_the_audio(settings):
    settings.JOB_TIME_BASE_S, settings.JOB_TIME_PER_AUDIO_S = 900, 2.0

    assert runner.job_time_limit(JobFactory(recording__duration_s=3600)) == 900 + 7200


def _taken_over(settings) -> tuple[Job, Job]:
    """The same job as its first worker still sees it, and after a second worker took it over."""
    slow = JobFactory()
    slow.claim(worker="slow")
    Job.objects.filter(pk=slow.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_S + 1)
    )
    fast = Job.objects.get(pk=slow.pk)
    assert fast.claim(worker="fast")
    return slow, fast


def test_a_worker_whose_job_was_taken_over_can_no_longer_write_to_it(settings):
    slow, fast = _taken_over(settings)

    with pytest.raises(JobLost):
        slow.record_progress(stage="transcribing", progress=50)
    with pytest.raises(JobLost):
        slow.cancel_was_requested()
    with pytest.raises(JobLost):
        services.job_store_transcript(job=slow, language="en", text="a", segments=[(0, 1, "a", "")])
    with pytest.raises(JobLost):
        slow.mark_failed(reason="boom")

    stored = Job.objects.get(pk=fast.pk)
    assert (stored.status, stored.worker, stored.attempts) == (JobStatus.RUNNING, "fast", 2)
    assert (stored.progress, stored.error, stored.segments.count()) == (0, "", 0)
    fast.record_progress(stage="transcribing", progress=50)
    assert not fast.cancel_was_requested()


def test_releasing_a_job_that_moved_on_changes_nothing(settings):
    slow, fast = _taken_over(settings)

    assert not slow.release()
    assert (slow.status, slow.worker) == (JobStatus.RUNNING, "fast")
    assert fast.release()
    assert (fast.status, fast.worker, fast.attempts) == (JobStatus.QUEUED, "", 2)


def test_an_unexpected_error_fails_the_job_with_its_reason():
    job = JobFactory(recording__file="")  # its stored audio is gone

    runner.run_job(job.pk, worker="w")

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error.startswith("Unexpected error while transcribing: ")
