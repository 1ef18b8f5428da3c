"""Staff steer the workers through Celery's remote control: every action reaches a real worker
process, changes what it does, comes back with its answer and leaves an audit entry."""

import json
import os
import time
from collections.abc import Iterator

import pytest
from django.core.files.base import ContentFile
from rest_framework.test import APIClient

from operations import control, workers
from operations.models import AuditEntry
from portal.celery import app as celery_app
from tests.audio_files import convert, speech
from tests.conftest import (
    BROKEN_MODEL,
    TINY_MODEL,
    api_client_for,
    start_worker,
    stop_process,
    wait_until,
)
from tests.factories import JobFactory, RecordingFactory, UserFactory
from transcription.models import Job, JobStatus
from transcription.tasks import transcribe_job

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# A queue of its own, so only the worker under test sees these jobs.
QUEUE = "voxa-worker-control-tests"
CLIP = "en_librispeech_1995-1837-0001.wav"
# Long enough (3 minutes of speech) to be still running while it is drained and cancelled.
LONG_CLIP = "en_two_cities_44s.wav"


@pytest.fixture(scope="module")
def worker(process_env, tmp_path_factory) -> Iterator[str]:
    name = f"control-{os.getpid()}@localhost"
    # "auto": the CPU here, and the GPU wherever there is one (the CUDA branch of clear cache).
    # Speech found in the job's thread: no detector processes to start (each imports FunASR).
    env = {**process_env, "WORKER_HEARTBEAT_S": "1", "ASR_DEVICE": "auto", "VAD_PROCESSES": "0"}
    log = tmp_path_factory.mktemp("control") / "worker.log"
    process = start_worker(env, name, QUEUE, log)
    try:
        wait_until(lambda: status_of(name) is not None, 10)
        yield name
    finally:
        stop_process(process)
        print(f"\n--- worker log tail ---\n{log.read_text()[-2000:]}")


@pytest.fixture(autouse=True)
def _worker_running_after(request) -> Iterator[None]:
    """Whatever a test left it in, the module's worker takes jobs again for the next one."""
    yield
    if "worker" in request.fixturenames:
        celery_app.control.broadcast(
            control.RESUME, destination=[request.getfixturevalue("worker")], reply=True, timeout=5
        )


@pytest.fixture
def staff(db):
    return UserFactory(username="root", is_staff=True)


@pytest.fixture
def staff_api(staff) -> APIClient:
    return api_client_for(staff)


def status_of(name: str) -> dict | None:
    """The worker's latest heartbeat, as staff read it."""
    from operations.selectors import worker_get

    return worker_get(name)


def act(api: APIClient, worker: str, action: str, **body: str) -> dict:
    """Sends `action` to `worker` through the API; its answer."""
    response = api.post(
        f"/api/workers/{worker}/actions/", {"action": action, **body}, format="json"
    )
    assert response.status_code == 200, response.content
    answer = response.json()
    assert (answer["action"], answer["target"]) == (action, worker)
    assert AuditEntry.objects.get(pk=answer["audit"]).result["replies"] == answer["replies"]
    return answer["replies"][worker]


def queued_job(owner, **recording) -> Job:
    """A job on the tiny model, sent to the worker under test."""
    recording = RecordingFactory(owner=owner, **recording)
    job = JobFactory(recording=recording, model=TINY_MODEL, language="zh")
    transcribe_job.apply_async((job.pk,), queue=QUEUE)
    return job


def status(job: Job) -> str:
    return Job.objects.get(pk=job.pk).status


def audit_trail() -> list[tuple[str, str, bool]]:
    return list(AuditEntry.objects.order_by("id").values_list("actor_name", "action", "ok"))


def test_a_paused_worker_takes_no_new_job_until_resumed(worker, staff_api, alice):
    paused = act(staff_api, worker, "pause")
    assert paused["ok"] and paused["state"] == "paused"
    wait_until(lambda: status_of(worker)["state"] == "paused", 5)

    job = queued_job(alice, audio=CLIP)
    time.sleep(2)  # a worker taking jobs claims one within moments
    assert status(job) == JobStatus.QUEUED

    resumed = act(staff_api, worker, "resume")
    assert resumed == {
        "ok": True,
        "state": "running",
        "held_jobs": [],
        "detail": "running: taking new jobs again",
    }
    wait_until(lambda: status(job) == JobStatus.SUCCEEDED, 60)
    wait_until(lambda: status_of(worker)["state"] == "running", 5)
    assert audit_trail() == [("root", "pause", True), ("root", "resume", True)]


def test_a_model_loaded_and_unloaded_ahead_of_use_shows_in_the_workers_status(worker, staff_api):
    def loaded() -> list[str]:
        return [p for model in status_of(worker)["loaded_models"] for p in model["presets"]]

    answer = act(staff_api, worker, "load_model", model=TINY_MODEL)
    assert answer["ok"], answer
    assert answer["detail"] == f"{TINY_MODEL} is loaded"
    assert any(TINY_MODEL in model["presets"] for model in answer["loaded_models"])
    wait_until(lambda: TINY_MODEL in loaded(), 5)

    answer = act(staff_api, worker, "unload_model", model=TINY_MODEL)
    assert answer["ok"] and answer["detail"] == f"{TINY_MODEL} is unloaded"
    assert all(TINY_MODEL not in model["presets"] for model in answer["loaded_models"])
    wait_until(lambda: TINY_MODEL not in loaded(), 5)
    again = act(staff_api, worker, "unload_model", model=TINY_MODEL)
    assert again["detail"] == f"{TINY_MODEL} was not loaded: nothing to unload"

    broken = act(staff_api, worker, "load_model", model=BROKEN_MODEL)
    assert not broken["ok"] and "does not exist on this worker" in broken["detail"]
    unknown = act(staff_api, worker, "load_model", model="no-such-model")
    assert unknown == {
        "ok": False,
        "detail": "'no-such-model' is not a model this worker offers (ASR_ENABLED_MODELS)",
    }
    assert [ok for _, _, ok in audit_trail()] == [True, True, True, False, False]


def test_a_drained_worker_reports_drained_once_an_admin_cancelled_its_job(
    worker, staff_api, staff, alice, tmp_path
):
    audio = convert(speech(LONG_CLIP), tmp_path / "long.flac", repeat=4).read_bytes()
    job = queued_job(alice, file=ContentFile(audio, name="original"), duration_s=176)
    wait_until(lambda: status(job) == JobStatus.RUNNING, 30)

    draining = act(staff_api, worker, "drain")
    assert (draining["state"], draining["held_jobs"]) == ("draining", [job.pk])
    assert (
        draining["detail"]
        == "draining: takes no new job, finishing the 1 job(s) it holds, then drained"
    )
    wait_until(lambda: status_of(worker)["state"] == "draining", 5)

    cancelled = staff_api.post(f"/api/queue/{job.pk}/cancel/")
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["cancel_requested"] and cancelled.json()["cancelled_by"] == "root"
    wait_until(lambda: status(job) == JobStatus.CANCELLED, 15)
    job.refresh_from_db()
    assert job.cancelled_by == staff
    assert job.owner == alice
    wait_until(lambda: status_of(worker)["state"] == "drained", 5)

    twice = staff_api.post(f"/api/queue/{job.pk}/cancel/")
    assert twice.status_code == 409
    assert twice.json()["detail"] == "Cannot do it: the job has already cancelled."
    assert audit_trail() == [
        ("root", "drain", True),
        ("root", "cancel_job", True),
        ("root", "cancel_job", False),
    ]


def test_clearing_the_cache_of_a_cpu_worker_says_there_is_nothing_to_clear(worker, staff_api):
    if status_of(worker)["device"] != "cpu":
        pytest.skip("the worker runs on a GPU here")
    answer = act(staff_api, worker, "clear_cache")
    assert answer == {
        "ok": True,
        "cleared": False,
        "device": "cpu",
        "detail": "nothing to clear: this worker runs on the CPU, not CUDA",
    }

    everyone = staff_api.post("/api/workers/actions/", {"action": "clear_cache"}, format="json")
    assert everyone.status_code == 200
    assert everyone.json()["target"] == "all workers"
    assert everyone.json()["replies"][worker] == answer
    assert [action for _, action, _ in audit_trail()] == ["clear_cache", "clear_cache"]


def test_clearing_the_cache_of_a_gpu_worker_frees_torchs_cache_per_gpu(worker, staff_api):
    if not status_of(worker)["device"].startswith("cuda"):
        pytest.skip("no GPU here")
    assert act(staff_api, worker, "load_model", model=TINY_MODEL)["ok"]

    answer = act(staff_api, worker, "clear_cache")

    assert answer["ok"] and answer["cleared"] is True
    gpu = answer["gpus"][0]
    assert gpu["index"] == int(status_of(worker)["device"].partition(":")[2] or 0)
    assert gpu["freed_bytes"] == gpu["reserved_before_bytes"] - gpu["reserved_after_bytes"] >= 0
    assert answer["freed_bytes"] == sum(g["freed_bytes"] for g in answer["gpus"])
    # The model's weights stay: only what torch cached and no tensor uses went.
    assert gpu["reserved_after_bytes"] > 0


def test_a_worker_that_does_not_answer_is_recorded_as_silent(staff_api, settings):
    """A worker killed just after its last heartbeat: still listed online, gone from the broker."""
    settings.WORKER_CONTROL_TIMEOUT_S = 0.5
    name = f"gone-{os.getpid()}@nowhere"
    client = workers.client()
    client.setex(workers.status_key(name), 30, json.dumps({"name": name}))
    client.zadd(workers.SEEN_KEY, {name: time.time()})
    try:
        response = staff_api.post(
            f"/api/workers/{name}/actions/", {"action": "pause"}, format="json"
        )
    finally:
        client.delete(workers.status_key(name))
        client.zrem(workers.SEEN_KEY, name)
        client.close()
    assert response.status_code == 200
    assert response.json()["ok"] is False
    assert response.json()["replies"] == {name: {"ok": False, "detail": "no answer within 0.5 s"}}
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.target, entry.ok) == ("pause", name, False)


def test_actions_are_checked_before_any_is_sent(staff_api):
    unknown = staff_api.post(
        "/api/workers/no-such@worker/actions/", {"action": "pause"}, format="json"
    )
    assert unknown.status_code == 404
    assert "detail" in unknown.json()
    bad = staff_api.post("/api/workers/actions/", {"action": "reboot"}, format="json")
    assert bad.status_code == 400 and "action" in bad.json()
    nameless = staff_api.post("/api/workers/actions/", {"action": "load_model"}, format="json")
    assert nameless.json() == {"model": ["Name the model preset to load or unload."]}
    assert not AuditEntry.objects.exists()


def test_staff_cancel_a_queued_job_at_once_and_retry_only_failed_or_cancelled_ones(
    staff_api, staff, alice, job_queue
):
    queued = JobFactory(recording=RecordingFactory(owner=alice))
    answer = staff_api.post(f"/api/queue/{queued.pk}/cancel/").json()
    assert answer == {
        "id": queued.pk,
        "status": "cancelled",
        "cancel_requested": True,
        "cancelled_by": "root",
        "audit": AuditEntry.objects.get().pk,
    }

    retried = staff_api.post(f"/api/queue/{queued.pk}/retry/")
    assert retried.status_code == 200
    assert (retried.json()["status"], retried.json()["cancelled_by"]) == ("queued", None)
    failed = JobFactory(recording=RecordingFactory(owner=alice), status=JobStatus.FAILED)
    assert staff_api.post(f"/api/queue/{failed.pk}/retry/").json()["status"] == "queued"
    queued.refresh_from_db()  # queued again: not retryable
    refused = staff_api.post(f"/api/queue/{queued.pk}/retry/")
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        "Cannot do it: only a failed or cancelled job is retried, not a queued one."
    )
    assert staff_api.post("/api/queue/999999/cancel/").status_code == 404
    assert [(a, ok) for _, a, ok in audit_trail()] == [
        ("cancel_job", True),
        ("retry_job", True),
        ("retry_job", True),
        ("retry_job", False),
    ]


def test_the_audit_log_lists_newest_first_in_pages(
    staff_api, staff, alice, job_queue, django_assert_num_queries
):
    for _ in range(3):
        job = JobFactory(recording=RecordingFactory(owner=alice))
        staff_api.post(f"/api/queue/{job.pk}/cancel/")
    ids = list(AuditEntry.objects.order_by("-created_at", "-id").values_list("pk", flat=True))

    with django_assert_num_queries(3):  # the token and its user, the count, the page
        page = staff_api.get("/api/audit/").json()

    assert page["count"] == 3
    assert [entry["id"] for entry in page["results"]] == ids
    first = page["results"][0]
    assert (first["actor"], first["actor_name"], first["action"]) == (
        staff.pk,
        "root",
        "cancel_job",
    )
    assert first["result"]["detail"] == "cancelled"
    # The actor's name stays when the user goes.
    staff.delete()
    admin = api_client_for(UserFactory(username="other-admin", is_staff=True))
    assert admin.get("/api/audit/").json()["results"][0]["actor_name"] == "root"
