"""Nothing is lost when a worker dies: kill -9 mid-job, restart, the job finishes once."""

import os

import pytest

from tests.conftest import start_worker, wait_for_job_end, wait_until
from tests.factories import JobFactory, RecordingFactory
from transcription.models import Job, JobStatus
from transcription.tasks import transcribe_job

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# A queue of its own, so only the worker under test sees this job.
CRASH_QUEUE = "voxa-crash-tests"


def test_a_job_whose_worker_is_killed_finishes_once_after_a_restart(process_env, alice, tmp_path):
    recording = RecordingFactory(owner=alice, audio="long_pauses_70s.wav", duration_s=70.5)
    job = JobFactory(recording=recording, model="whisper-base", language="zh")
    name = f"crash-{os.getpid()}@localhost"

    worker = start_worker(process_env, name, CRASH_QUEUE, tmp_path / "first.log")
    transcribe_job.apply_async((job.pk,), queue=CRASH_QUEUE)
    wait_until(lambda: Job.objects.get(pk=job.pk).stage == "transcribing", timeout_s=120)
    worker.kill()  # SIGKILL: no cleanup, the task stays unacknowledged in the broker
    worker.wait()
    assert Job.objects.get(pk=job.pk).status == JobStatus.RUNNING

    restarted = start_worker(process_env, name, CRASH_QUEUE, tmp_path / "second.log")
    wait_for_job_end(job, restarted, timeout_s=300)

    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.attempts == 2
    segments = list(job.segments.values_list("index", "start", "end", "text"))
    assert [index for index, *_ in segments] == list(range(len(segments)))
    assert len({(start, end) for _, start, end, _ in segments}) == len(segments)
    assert "Requeued job" in (tmp_path / "second.log").read_text()
