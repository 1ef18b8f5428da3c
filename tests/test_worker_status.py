"""Workers report their status to Redis on a heartbeat; site staff read it at /api/workers/."""

import os
import time

import pytest
from rest_framework.test import APIClient

from tests.conftest import TINY_MODEL, api_client_for, start_worker, stop_process, wait_until
from tests.factories import JobFactory, RecordingFactory, UserFactory
from transcription.models import Job, JobStatus
from transcription.tasks import transcribe_job

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HEARTBEAT_S = 1
# A queue of its own, so only the worker under test sees this job.
QUEUE = "voxa-worker-status-tests"


def worker_seen(api: APIClient, name: str) -> dict | None:
    return next((w for w in api.get("/api/workers/").json() if w["name"] == name), None)


def test_a_workers_heartbeat_shows_its_status_and_it_goes_offline_once_it_dies(
    process_env, alice, tmp_path
):
    staff = api_client_for(UserFactory(is_staff=True))
    recording = RecordingFactory(owner=alice, audio="en_librispeech_1995-1837-0001.wav")
    job = JobFactory(recording=recording, model=TINY_MODEL, language="zh")
    name = f"status-{os.getpid()}@localhost"
    env = {**process_env, "WORKER_HEARTBEAT_S": str(HEARTBEAT_S), "ASR_DEVICE": "auto"}

    worker = start_worker(env, name, QUEUE, tmp_path / "worker.log")
    try:
        transcribe_job.apply_async((job.pk,), queue=QUEUE)
        wait_until(lambda: Job.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED, 120)
        wait_until(lambda: (worker_seen(staff, name) or {}).get("jobs_done") == 1, 10)

        status = staff.get(f"/api/workers/{name}/").json()
        assert status["online"] is True
        assert status["pid"] == worker.pid
        assert status["queues"] == [QUEUE, f"{QUEUE}.maintenance"]
        assert status["device"] == "cpu"  # "auto" on a machine without a GPU
        assert status["gpus"] == []
        assert status["jobs_failed"] == 0
        assert status["running_jobs"] == []
        assert status["throughput"] > 0
        assert [m["backend"] for m in status["loaded_models"]] == ["funasr"]
        assert status["heartbeat_s"] == HEARTBEAT_S
        assert status["batchers"] == [
            {"model": TINY_MODEL, "batch_seconds": 240.0, "oom_events": 0}  # CPU's default
        ]
        assert status["oom_events"] == 0
        assert_telemetry_plausible(Job.objects.select_related("recording").get(pk=job.pk), name)

        worker.kill()  # SIGKILL: no goodbye, only its heartbeat stops
        worker.wait()
        killed_at = time.monotonic()
        wait_until(lambda: worker_seen(staff, name)["online"] is False, 3 * HEARTBEAT_S + 1)
        assert time.monotonic() - killed_at <= 3 * HEARTBEAT_S + 1
    finally:
        stop_process(worker)  # its speech detectors, in its process group

    gone = staff.get(f"/api/workers/{name}/").json()
    assert gone["name"] == name and gone["last_seen"]
    assert "pid" not in gone  # the status expired with the worker


def assert_telemetry_plausible(job: Job, worker: str) -> None:
    """The worker timed the job's stages within its run, on the CPU."""
    wall_s = (job.finished_at - job.started_at).total_seconds()
    stages_s = [job.decoding_s, job.speech_detection_s, job.recognition_s]
    assert all(seconds is not None and seconds >= 0 for seconds in stages_s), stages_s
    assert sum(stages_s) <= wall_s
    assert job.recognition_s > 0
    assert job.queue_wait_s == pytest.approx(
        (job.started_at - (job.queued_at or job.created_at)).total_seconds(), abs=0.001
    )
    # Audio seconds per wall second of the attempt, timed in the worker from just after its claim.
    assert job.speed_x >= job.recording.duration_s / wall_s * 0.99
    assert job.device == "cpu"
    assert job.peak_gpu_bytes is None
    assert job.worker == worker


def test_a_worker_stopped_on_purpose_is_offline_at_once(process_env, tmp_path):
    staff = api_client_for(UserFactory(is_staff=True))
    name = f"stopped-{os.getpid()}@localhost"
    env = {**process_env, "WORKER_HEARTBEAT_S": str(HEARTBEAT_S), "ASR_DEVICE": "cpu"}
    worker = start_worker(env, name, QUEUE, tmp_path / "worker.log")
    try:
        wait_until(lambda: worker_seen(staff, name) is not None, 10)
    finally:
        stop_process(worker)
    assert worker_seen(staff, name)["online"] is False


def test_only_staff_read_the_workers(alice):
    alice_api = api_client_for(alice)
    staff = api_client_for(UserFactory(is_staff=True))
    for url in ("/api/workers/", "/api/workers/someone@somewhere/"):
        assert APIClient().get(url).status_code == 401
        assert alice_api.get(url).status_code == 403
    assert staff.get("/api/workers/").status_code == 200
    assert staff.get("/api/workers/no-such-worker@nowhere/").status_code == 404
