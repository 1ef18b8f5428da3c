"""A job's telemetry: stored by the fenced finish, cleared by a retry, shown in the API and on the
recording page (the worker, the device and its memory to staff only). The real worker's figures
are checked in tests/test_worker_status.py."""

import pytest
from django.test import Client

from gpu_engine.stages import Stage
from tests.conftest import api_client_for
from tests.factories import JobFactory, RecordingFactory, UserFactory
from transcription import services
from transcription.models import Job, JobLost, JobStatus, JobTelemetry
from transcription.runner import JobReporter

pytestmark = pytest.mark.django_db

MEASURED = JobTelemetry(
    queue_wait_s=1.25,
    decoding_s=0.5,
    speech_detection_s=0.75,
    recognition_s=4.0,
    speed_x=9.8,
    device="cuda:0 (NVIDIA H200)",
    peak_gpu_bytes=3 * 2**30,
)
WORKER = "gpu1@host"
TIMINGS = {
    "queue_wait_s": 1.25,
    "decoding_s": 0.5,
    "speech_detection_s": 0.75,
    "recognition_s": 4.0,
    "speed_x": 9.8,
}


def finished_job(owner) -> Job:
    job = JobFactory(recording=RecordingFactory(owner=owner, audio="zh_funasr_asr_example.wav"))
    job.claim(worker=WORKER)
    services.job_store_transcript(
        job=job, language="zh", text="好", segments=[(0, 1, "好", "")], telemetry=MEASURED
    )
    return job


def test_the_finish_stores_the_telemetry_and_a_retry_clears_it(alice) -> None:
    job = finished_job(alice)

    stored = Job.objects.get(pk=job.pk)
    assert JobTelemetry(**{name: getattr(stored, name) for name in vars(MEASURED)}) == MEASURED

    stored.reset_for_retry()
    cleared = Job.objects.get(pk=job.pk)
    assert all(getattr(cleared, name) is None for name in TIMINGS)
    assert (cleared.device, cleared.peak_gpu_bytes) == ("", None)


def test_a_worker_that_lost_the_job_writes_no_telemetry(alice) -> None:
    job = JobFactory(recording=RecordingFactory(owner=alice))
    job.claim(worker="slow")
    Job.objects.filter(pk=job.pk).update(attempts=2, worker="fast")  # taken over meanwhile

    with pytest.raises(JobLost):
        job.mark_failed(reason="boom", telemetry=MEASURED)

    assert Job.objects.get(pk=job.pk).decoding_s is None


def test_users_see_the_timings_and_staff_also_where_the_job_ran(alice) -> None:
    staff = UserFactory(is_staff=True)
    own_job, staffs_job = finished_job(alice), finished_job(staff)

    telemetry = api_client_for(alice).get(f"/api/jobs/{own_job.pk}/").json()["telemetry"]
    assert telemetry == TIMINGS
    telemetry = api_client_for(staff).get(f"/api/jobs/{staffs_job.pk}/").json()["telemetry"]
    assert telemetry == {
        **TIMINGS,
        "worker": WORKER,
        "device": "cuda:0 (NVIDIA H200)",
        "peak_gpu_bytes": 3 * 2**30,
    }
    listed = api_client_for(alice).get("/api/jobs/").json()["results"][0]
    assert listed["telemetry"] == TIMINGS


def test_the_recording_page_shows_the_telemetry_to_staff_only(alice) -> None:
    staff = UserFactory(is_staff=True)
    for user, shown in ((alice, False), (staff, True)):
        job = finished_job(user)
        client = Client()
        client.force_login(user)
        page = client.get(f"/recordings/{job.recording_id}/").content.decode()
        assert ('data-testid="job-telemetry"' in page) is shown
        assert (WORKER in page) is shown
    assert "cuda:0 (NVIDIA H200)" in page and "3.0\xa0GB" in page and "9.8" in page


def test_a_job_still_queued_has_no_telemetry_block() -> None:
    staff = UserFactory(is_staff=True)
    job = JobFactory(recording=RecordingFactory(owner=staff), status=JobStatus.QUEUED)
    client = Client()
    client.force_login(staff)
    page = client.get(f"/recordings/{job.recording_id}/").content.decode()
    assert 'data-testid="job-telemetry"' not in page


@pytest.mark.parametrize(
    ("stages", "recognition_s"),
    [
        ((Stage.TRANSCRIBING, Stage.FINALIZING), 5.0),
        # Diarizing is not recognition: the clock stops where it begins.
        ((Stage.TRANSCRIBING, Stage.DIARIZING, Stage.FINALIZING), 5.0),
    ],
)
def test_recognition_is_timed_until_the_next_stage_begins(alice, stages, recognition_s) -> None:
    job = JobFactory(recording=RecordingFactory(owner=alice))
    job.claim(worker=WORKER)
    reporter = JobReporter(job)
    # When each stage began, on the reporter's clock: decoding at 10 s, one stage every 5 s.
    reporter.stage_began = {
        stage: 10.0 + 5.0 * i for i, stage in enumerate((Stage.DECODING, Stage.SEGMENTING, *stages))
    }

    measured = reporter.telemetry()

    assert (measured.decoding_s, measured.speech_detection_s) == (5.0, 5.0)
    assert measured.recognition_s == recognition_s
