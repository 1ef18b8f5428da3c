"""Prometheus' /metrics: every figure read when scraped, from the database and from the statuses
the workers' heartbeats leave in Redis (operations.selectors), so no worker process is scraped."""

import hmac
import ipaddress
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from accounts.lockout import client_ip
from operations import selectors
from transcription.models import Job, JobStatus

# Upper bounds, in seconds, of the histograms' buckets (Prometheus adds +Inf).
JOB_DURATION_BUCKETS = (10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)
QUEUE_WAIT_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600)
FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)
GPU_MEMORY_KINDS = ("used", "reserved", "free", "total")


class PortalCollector:
    """A prometheus_client collector: its collect() runs on each scrape."""

    def collect(self) -> Iterator[Metric]:
        yield from queue_metrics()
        yield jobs_by_status()
        yield audio_processed()
        yield job_duration()
        yield queue_wait()
        yield from worker_metrics(selectors.worker_list())


def queue_metrics() -> Iterator[Metric]:
    queued = Job.objects.filter(status=JobStatus.QUEUED).aggregate(
        jobs=Count("pk"), audio_s=Coalesce(Sum("recording__duration_s"), 0.0)
    )
    yield GaugeMetricFamily("voxa_queue_jobs", "Jobs waiting for a worker.", queued["jobs"])
    yield GaugeMetricFamily(
        "voxa_queue_audio_seconds",
        "Audio seconds of the jobs waiting for a worker (as far as their lengths are known).",
        queued["audio_s"],
    )


def jobs_by_status() -> Metric:
    counts = dict(Job.objects.values_list("status").annotate(Count("pk")).order_by())
    family = GaugeMetricFamily("voxa_jobs", "Jobs by status.", labels=["status"])
    for status in JobStatus.values:
        family.add_metric([status], counts.get(status, 0))
    return family


def audio_processed() -> Metric:
    # From the jobs still stored: deleting recordings lowers it, which Prometheus reads as a
    # counter reset.
    succeeded = Job.objects.filter(status=JobStatus.SUCCEEDED).aggregate(
        audio_s=Coalesce(Sum("recording__duration_s"), 0.0)
    )
    return CounterMetricFamily(
        "voxa_audio_processed_seconds",
        "Audio seconds of the jobs that succeeded.",
        succeeded["audio_s"],
    )


def job_duration() -> Metric:
    """finished_at - started_at of every finished job that ran."""
    jobs = Job.objects.filter(status__in=FINISHED, started_at__isnull=False).annotate(
        duration=ExpressionWrapper(F("finished_at") - F("started_at"), DurationField())
    )
    counts, total = _histogram(
        jobs, "duration", [timedelta(seconds=bound) for bound in JOB_DURATION_BUCKETS]
    )
    return HistogramMetricFamily(
        "voxa_job_duration_seconds",
        "Wall time of finished jobs, from their last start to their end.",
        buckets=_buckets(JOB_DURATION_BUCKETS, counts),
        sum_value=(total or timedelta()).total_seconds(),
    )


def queue_wait() -> Metric:
    """How long the finished jobs' last attempts waited in the queue (their telemetry)."""
    jobs = Job.objects.filter(queue_wait_s__isnull=False)
    counts, total = _histogram(jobs, "queue_wait_s", QUEUE_WAIT_BUCKETS)
    return HistogramMetricFamily(
        "voxa_job_queue_wait_seconds",
        "Time finished jobs waited in the queue before their last attempt started.",
        buckets=_buckets(QUEUE_WAIT_BUCKETS, counts),
        sum_value=total or 0.0,
    )


def _histogram(jobs: QuerySet[Job], field: str, bounds: Sequence[Any]) -> tuple[list[int], Any]:
    """The cumulative count under each bound and in all, and the sum of `field`: one query."""
    counts = {
        f"le_{i}": Count("pk", filter=Q(**{f"{field}__lte": bound}))
        for i, bound in enumerate(bounds)
    }
    row = jobs.aggregate(**counts, all=Count("pk"), total=Sum(field))
    return [*(row[f"le_{i}"] for i in range(len(bounds))), row["all"]], row["total"]


def _buckets(bounds: Sequence[float], counts: list[int]) -> list[tuple[str, int]]:
    return list(zip([*map(str, map(float, bounds)), "+Inf"], counts, strict=True))


def worker_metrics(workers: Iterable[dict[str, Any]]) -> Iterator[Metric]:
    """Per worker, from the statuses their heartbeats wrote; an offline worker has only its name."""
    online = GaugeMetricFamily(
        "voxa_worker_online", "1 while the worker's heartbeat is fresh.", labels=["worker"]
    )
    memory = GaugeMetricFamily(
        "voxa_worker_gpu_memory_bytes",
        "The worker's GPU memory: used (by every process), reserved by its torch, free, total.",
        labels=["worker", "gpu", "kind"],
    )
    throughput = GaugeMetricFamily(
        "voxa_worker_throughput",
        "Audio seconds per wall second over the worker's latest succeeded jobs.",
        labels=["worker"],
    )
    running = GaugeMetricFamily(
        "voxa_worker_running_jobs", "Jobs the worker is running.", labels=["worker"]
    )
    oom_events = CounterMetricFamily(
        "voxa_worker_oom_events",
        "Model calls that ran out of GPU memory since the worker started.",
        labels=["worker"],
    )
    batch_seconds = GaugeMetricFamily(
        "voxa_worker_batch_seconds",
        "Audio seconds per model call, per model: out-of-memory errors lower it.",
        labels=["worker", "model"],
    )
    for worker in workers:
        name = worker["name"]
        online.add_metric([name], int(worker["online"]))
        if not worker["online"]:
            continue
        for gpu in worker.get("gpus", []):
            for kind in GPU_MEMORY_KINDS:
                memory.add_metric([name, str(gpu["index"]), kind], gpu[f"{kind}_bytes"])
        if worker.get("throughput") is not None:
            throughput.add_metric([name], worker["throughput"])
        running.add_metric([name], len(worker.get("running_jobs", [])))
        oom_events.add_metric([name], worker.get("oom_events", 0))
        for batcher in worker.get("batchers", []):
            batch_seconds.add_metric([name, batcher["model"]], batcher["batch_seconds"])
    yield from (online, memory, throughput, running, oom_events, batch_seconds)


registry = CollectorRegistry()
registry.register(PortalCollector())


def scrape_refusal(request: HttpRequest) -> HttpResponse | None:
    """Why this request may not read the metrics, as METRICS ("token" or "addresses") says;
    None when it may."""
    if settings.METRICS == "token":
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            refusal = _refusal(401, "The metrics need Authorization: Bearer <METRICS_TOKEN>.")
            refusal["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return refusal
        if not hmac.compare_digest(token.encode(), settings.METRICS_TOKEN.encode()):
            return _refusal(403, "Wrong metrics token.")
        return None
    if not _allowed_address(client_ip(request)):
        return _refusal(403, "The metrics are not served to this address.")
    return None


def _allowed_address(address: str | None) -> bool:
    try:
        client = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(
        client in ipaddress.ip_network(network, strict=False)
        for network in settings.METRICS_ALLOWED_ADDRESSES
    )


def _refusal(status: int, reason: str) -> HttpResponse:
    return HttpResponse(reason, status=status, content_type="text/plain; charset=utf-8")


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """GET /metrics, for Prometheus (README: Metrics)."""
    if settings.METRICS == "off":
        raise Http404("Metrics are off (METRICS).")
    if (refusal := scrape_refusal(request)) is not None:
        return refusal
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
