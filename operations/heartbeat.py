"""The worker's heartbeat: every WORKER_HEARTBEAT_S, its status (who and where it is, its device
and memory, the models it holds, its jobs, whether it takes new ones) goes to Redis for staff to
read through the API, and to the workers page's sockets (operations.live)."""

import json
import logging
import os
import socket
import threading
import time
import tomllib
from datetime import datetime, timedelta
from typing import Any

from celery.signals import worker_ready, worker_shutting_down
from django.conf import settings
from django.db import close_old_connections
from django.db.models import DurationField, ExpressionWrapper, F, QuerySet
from django.utils import timezone

from operations import control, live, workers
from transcription.models import Job, JobStatus

logger = logging.getLogger(__name__)

# Throughput is measured over this many of the worker's latest finished jobs.
THROUGHPUT_JOBS = 20

_stop = threading.Event()
_thread: threading.Thread | None = None


def project_version() -> str:
    with (settings.BASE_DIR / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)["project"]["version"]


def worker_status(*, node: str, queues: list[str], started_at: datetime) -> dict[str, Any]:
    from gpu_engine.batcher import batcher_report
    from gpu_engine.device import device_report, resolve_device
    from gpu_engine.models import loaded_models

    now = timezone.now()
    batchers = batcher_report()
    # Counted from the database rather than in memory: jobs finished by this process, whichever
    # thread ran them; a job ends once however often its task was delivered.
    finished = Job.objects.filter(worker=node, finished_at__gte=started_at)
    running = Job.objects.filter(worker=node, status=JobStatus.RUNNING).order_by("started_at")
    return {
        "name": node,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "queues": queues,
        "version": project_version(),
        "heartbeat_s": settings.WORKER_HEARTBEAT_S,
        "started_at": started_at.isoformat(),
        "uptime_s": round((now - started_at).total_seconds()),
        # running, or paused, draining, drained by staff (operations.control)
        "state": control.current_state().value,
        **device_report(resolve_device(settings.ASR_DEVICE)),
        "loaded_models": loaded_models(),
        # Per model: its batch budget, which out-of-memory errors lower, and how many it met.
        "batchers": batchers,
        "oom_events": sum(batcher["oom_events"] for batcher in batchers),
        "running_jobs": [
            {"id": job_id, "stage": stage, "progress": progress}
            for job_id, stage, progress in running.values_list("id", "stage", "progress")
        ],
        "jobs_done": finished.filter(status=JobStatus.SUCCEEDED).count(),
        "jobs_failed": finished.filter(status=JobStatus.FAILED).count(),
        "throughput": _throughput(finished),
    }


def _throughput(finished: QuerySet[Job]) -> float | None:
    """Audio seconds per wall second over the latest succeeded jobs; None before the first."""
    latest = (
        finished.filter(status=JobStatus.SUCCEEDED, recording__duration_s__isnull=False)
        .annotate(wall=ExpressionWrapper(F("finished_at") - F("started_at"), DurationField()))
        .order_by("-finished_at")
        .values_list("recording__duration_s", "wall")[:THROUGHPUT_JOBS]
    )
    audio_s = sum(duration for duration, _ in latest)
    wall_s = sum((wall for _, wall in latest), timedelta()).total_seconds()
    return round(audio_s / wall_s, 2) if wall_s > 0 else None


def beat(*, node: str, queues: list[str], started_at: datetime) -> None:
    status = worker_status(node=node, queues=queues, started_at=started_at)
    now = time.time()
    client = workers.client()
    try:
        with client.pipeline() as pipe:
            pipe.setex(
                workers.status_key(node),
                workers.ONLINE_INTERVALS * settings.WORKER_HEARTBEAT_S,
                json.dumps(status),
            )
            pipe.zadd(workers.SEEN_KEY, {node: now})
            pipe.zremrangebyscore(workers.SEEN_KEY, "-inf", now - workers.FORGET_AFTER_S)
            pipe.execute()
    finally:
        client.close()
    live.publish_worker(workers.entry(node, now, status))


def _beat_until_stopped(node: str, queues: list[str]) -> None:
    started_at = timezone.now()
    while True:
        # A connection the database dropped meanwhile is replaced, not reused.
        close_old_connections()
        try:
            beat(node=node, queues=queues, started_at=started_at)
        except Exception:
            # Redis or the database away for a moment: the status goes stale, then offline,
            # and the next heartbeat brings it back; the thread must outlive the outage.
            logger.warning("Worker heartbeat failed", exc_info=True)
        if _stop.wait(settings.WORKER_HEARTBEAT_S):
            return


@worker_ready.connect
def start_heartbeat(sender, **kwargs) -> None:
    global _thread
    queues = sorted(queue.name for queue in sender.app.amqp.queues.consume_from.values())
    _thread = threading.Thread(
        target=_beat_until_stopped, args=(sender.hostname, queues), name="heartbeat", daemon=True
    )
    _thread.start()


@worker_shutting_down.connect
def stop_heartbeat(sender, **kwargs) -> None:
    """A worker that stops on purpose is shown offline at once, not a few intervals later."""
    _stop.set()
    if _thread is not None:
        _thread.join(timeout=5)  # a beat under way would write the status again
    client = workers.client()
    try:
        client.delete(workers.status_key(sender))
    finally:
        client.close()
    live.publish_worker(workers.entry(sender, time.time(), None))
