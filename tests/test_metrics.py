"""/metrics: Prometheus' text format, its figures those of the database and of the workers'
statuses in Redis, served as METRICS says (off, token, addresses)."""

import json
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from operations import heartbeat, selectors, workers
from operations.metrics import JOB_DURATION_BUCKETS, QUEUE_WAIT_BUCKETS
from tests.factories import JobFactory, RecordingFactory, UserFactory
from transcription.models import Job, JobStatus

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests-0123456789abcdef"
GPU_WORKER = "gpu-metrics-test@gpu-host"
CPU_WORKER = "cpu-metrics-test@localhost"
GONE_WORKER = "gone-metrics-test@old-host"
GIB = 2**30


@pytest.fixture
def token_metrics(settings) -> None:
    settings.METRICS = "token"
    settings.METRICS_TOKEN = TOKEN


def scrape() -> dict[str, dict[tuple, float]]:
    """Each family's samples: (sample name, sorted labels) -> value."""
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        family.name: {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for sample in family.samples
        }
        for family in text_string_to_metric_families(response.content.decode())
    }


def job(status: str, *, duration_s: float | None, ran_s: float | None, waited_s: float | None):
    now = timezone.now()
    recording = RecordingFactory(duration_s=duration_s)
    started = now - timedelta(seconds=ran_s) if ran_s is not None else None
    return JobFactory(
        recording=recording,
        status=status,
        started_at=started,
        finished_at=now if status not in (JobStatus.QUEUED, JobStatus.RUNNING) else None,
        queue_wait_s=waited_s,
    )


@pytest.fixture
def jobs() -> list[Job]:
    return [
        job(JobStatus.QUEUED, duration_s=30.5, ran_s=None, waited_s=None),
        job(JobStatus.QUEUED, duration_s=12.0, ran_s=None, waited_s=None),
        job(JobStatus.QUEUED, duration_s=None, ran_s=None, waited_s=None),  # length not known
        job(JobStatus.RUNNING, duration_s=600.0, ran_s=20, waited_s=None),
        job(JobStatus.SUCCEEDED, duration_s=61.0, ran_s=4.5, waited_s=0.4),
        job(JobStatus.SUCCEEDED, duration_s=3600.0, ran_s=700, waited_s=75.0),
        job(JobStatus.SUCCEEDED, duration_s=8.0, ran_s=10, waited_s=5000.0),
        job(JobStatus.FAILED, duration_s=20.0, ran_s=2, waited_s=1.0),
        job(JobStatus.CANCELLED, duration_s=9.0, ran_s=None, waited_s=None),  # while queued
    ]


def write_status(name: str, status: dict) -> None:
    """As heartbeat.beat stores a worker's status (a GPU worker is out of this machine's reach)."""
    client = workers.client()
    try:
        client.setex(workers.status_key(name), 30, json.dumps({"name": name, **status}))
        client.zadd(workers.SEEN_KEY, {name: time.time()})
    finally:
        client.close()


@pytest.fixture
def worker_statuses(settings) -> list[dict]:
    settings.ASR_DEVICE = "cpu"
    heartbeat.beat(node=CPU_WORKER, queues=["voxa"], started_at=timezone.now())
    gpu = {
        "index": 0,
        "name": "NVIDIA H200",
        "used_bytes": 50 * GIB,
        "reserved_bytes": 40 * GIB,
        "free_bytes": 90 * GIB,
        "total_bytes": 140 * GIB,
    }
    write_status(
        GPU_WORKER,
        {
            "device": "cuda:0",
            "gpus": [gpu],
            "running_jobs": [{"id": 1, "stage": "transcribing", "progress": 40.0}],
            "throughput": 85.5,
            "oom_events": 3,
            "batchers": [{"model": "whisper-large-v3", "batch_seconds": 240.0, "oom_events": 3}],
        },
    )
    client = workers.client()
    try:
        client.zadd(workers.SEEN_KEY, {GONE_WORKER: time.time() - 3600})  # its status expired
    finally:
        client.close()
    yield selectors.worker_list()
    client = workers.client()
    try:
        client.delete(workers.status_key(CPU_WORKER), workers.status_key(GPU_WORKER))
        client.zrem(workers.SEEN_KEY, CPU_WORKER, GPU_WORKER, GONE_WORKER)
    finally:
        client.close()


def histogram_from_db(values: list[float], bounds: tuple[float, ...]) -> dict[str, float]:
    return {str(float(b)): sum(v <= b for v in values) for b in bounds} | {"+Inf": len(values)}


def buckets(metrics: dict, name: str) -> dict[str, float]:
    return {
        dict(labels)["le"]: value
        for (sample, labels), value in metrics[name].items()
        if sample == f"{name}_bucket"
    }


@pytest.mark.usefixtures("token_metrics")
def test_the_metrics_are_the_databases_figures(jobs, django_assert_max_num_queries) -> None:
    with django_assert_max_num_queries(6):  # whatever the number of jobs
        metrics = scrape()

    all_jobs = Job.objects.select_related("recording")
    queued = [j for j in all_jobs if j.status == JobStatus.QUEUED]
    assert len(queued) == 3
    assert metrics["voxa_queue_jobs"] == {("voxa_queue_jobs", ()): len(queued)}
    assert metrics["voxa_queue_audio_seconds"][("voxa_queue_audio_seconds", ())] == sum(
        j.recording.duration_s or 0 for j in queued
    )
    by_status = {
        dict(labels)["status"]: value for (_, labels), value in metrics["voxa_jobs"].items()
    }
    assert by_status == {
        status: sum(j.status == status for j in all_jobs) for status in JobStatus.values
    }
    assert metrics["voxa_audio_processed_seconds"][("voxa_audio_processed_seconds_total", ())] == (
        sum(j.recording.duration_s for j in all_jobs if j.status == JobStatus.SUCCEEDED)
    )

    ran = [
        (j.finished_at - j.started_at).total_seconds()
        for j in all_jobs
        if j.finished_at and j.started_at
    ]
    assert buckets(metrics, "voxa_job_duration_seconds") == histogram_from_db(
        ran, JOB_DURATION_BUCKETS
    )
    assert metrics["voxa_job_duration_seconds"][("voxa_job_duration_seconds_sum", ())] == (
        pytest.approx(sum(ran))
    )
    waits = [j.queue_wait_s for j in all_jobs if j.queue_wait_s is not None]
    assert buckets(metrics, "voxa_job_queue_wait_seconds") == histogram_from_db(
        waits, QUEUE_WAIT_BUCKETS
    )
    assert metrics["voxa_job_queue_wait_seconds"][("voxa_job_queue_wait_seconds_count", ())] == 4
    assert metrics["voxa_job_queue_wait_seconds"][
        ("voxa_job_queue_wait_seconds_sum", ())
    ] == pytest.approx(sum(waits))


@pytest.mark.usefixtures("token_metrics")
def test_each_workers_figures_come_from_its_heartbeat_status(worker_statuses) -> None:
    metrics = scrape()

    by_name = {w["name"]: w for w in worker_statuses}
    assert by_name[CPU_WORKER]["online"] and not by_name[GONE_WORKER]["online"]
    online = {dict(labels)["worker"]: v for (_, labels), v in metrics["voxa_worker_online"].items()}
    assert {name: online[name] for name in by_name if name in online} == {
        CPU_WORKER: 1,
        GPU_WORKER: 1,
        GONE_WORKER: 0,
    }
    memory = metrics["voxa_worker_gpu_memory_bytes"]
    gpu = by_name[GPU_WORKER]["gpus"][0]
    for kind in ("used", "reserved", "free", "total"):
        labels = (("gpu", "0"), ("kind", kind), ("worker", GPU_WORKER))
        assert memory[("voxa_worker_gpu_memory_bytes", labels)] == gpu[f"{kind}_bytes"]
    assert not any(dict(labels)["worker"] == CPU_WORKER for _, labels in memory)  # no GPU

    def of(family: str, sample: str, name: str) -> float | None:
        return metrics[family].get((sample, (("worker", name),)))

    assert of("voxa_worker_throughput", "voxa_worker_throughput", GPU_WORKER) == 85.5
    assert of("voxa_worker_running_jobs", "voxa_worker_running_jobs", GPU_WORKER) == 1
    assert of("voxa_worker_oom_events", "voxa_worker_oom_events_total", GPU_WORKER) == 3
    # The CPU worker's own heartbeat: no job finished yet, so no throughput.
    cpu = by_name[CPU_WORKER]
    assert cpu["throughput"] is None
    assert of("voxa_worker_throughput", "voxa_worker_throughput", CPU_WORKER) is None
    assert (
        of("voxa_worker_oom_events", "voxa_worker_oom_events_total", CPU_WORKER)
        == (cpu["oom_events"])
    )
    labels = (("model", "whisper-large-v3"), ("worker", GPU_WORKER))
    assert metrics["voxa_worker_batch_seconds"][("voxa_worker_batch_seconds", labels)] == 240
    # An offline worker has only its name: no figure but voxa_worker_online.
    assert not any(
        dict(labels).get("worker") == GONE_WORKER
        for family, samples in metrics.items()
        if family != "voxa_worker_online"
        for _, labels in samples
    )


def test_metrics_are_off_by_default() -> None:
    assert settings.METRICS == "off"
    assert Client().get("/metrics").status_code == 404


@pytest.mark.usefixtures("token_metrics")
def test_metrics_by_token_refuse_a_missing_or_wrong_token() -> None:
    missing = Client().get("/metrics")
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"Authorization: Bearer" in missing.content
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Token {TOKEN}").status_code == 401
    # A signed-in user, staff even, needs the token all the same.
    staff = Client()
    staff.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert staff.get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_metrics_by_address_see_the_client_as_the_login_throttling_does(settings) -> None:
    settings.METRICS = "addresses"
    settings.METRICS_ALLOWED_ADDRESSES = ["10.20.0.0/16", "fd00::/8"]

    assert Client(REMOTE_ADDR="10.20.3.4").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="fd00::7").get("/metrics").status_code == 200
    refused = Client(REMOTE_ADDR="10.21.0.1").get("/metrics")
    assert refused.status_code == 403
    assert b"not served to this address" in refused.content
    # Without a trusted proxy, what the client writes in X-Forwarded-For does not count...
    spoofed = Client(REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="10.20.3.4")
    assert spoofed.get("/metrics").status_code == 403
    # ...behind Nginx (TRUSTED_PROXIES=1), the address it wrote there is the client's.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    behind_nginx = Client(REMOTE_ADDR="172.18.0.5", HTTP_X_FORWARDED_FOR="10.20.3.4")
    assert behind_nginx.get("/metrics").status_code == 200
    outside = Client(REMOTE_ADDR="172.18.0.5", HTTP_X_FORWARDED_FOR="198.51.100.9")
    assert outside.get("/metrics").status_code == 403
