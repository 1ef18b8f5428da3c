"""Fleet supervision: finding the jobs that lost their worker or their broker message, and
sending them again. Run by the worker as it starts and by the janitor that beat sends; the
web process never calls it. It sits above `transcription` (which never imports it), so the
job's own steering stays in transcription.services and the runner needs nothing from here."""

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from portal.celery import app as celery_app
from transcription import broker, services
from transcription.models import Job, JobStatus

logger = logging.getLogger(__name__)


def jobs_requeue_orphaned(*, worker: str) -> list[Job]:
    """Requeue the jobs a worker of this name left running: it has just (re)started, so whatever
    it held died with its previous process. The broker may redeliver their tasks too; claiming
    is atomic, so each job still runs once."""
    orphans = Job.objects.filter(status=JobStatus.RUNNING, worker=worker)
    return _requeue(orphans, why=f"left running by a previous {worker}")


def jobs_requeue_stalled() -> list[Job]:
    """Requeue the running jobs of workers that went silent: no progress for JOB_STALE_AFTER_S
    and no answer to a ping. Such a worker died for good (its host or container gone), and no
    restart of it will requeue them. A worker that is only slow answers, and keeps its jobs;
    one taken for dead wrongly stops at its next progress write (JobLost)."""
    stale_before = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_S)
    stalled = Job.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=stale_before)
    workers = set(stalled.values_list("worker", flat=True))
    if not workers:
        return []
    silent = workers - answering_workers(workers)
    return _requeue(stalled.filter(worker__in=silent), why="its worker stopped answering")


def answering_workers(names: Iterable[str]) -> set[str]:
    """The Celery workers among `names` that answer a ping through the broker."""
    replies = celery_app.control.ping(
        destination=list(names), timeout=settings.WORKER_PING_TIMEOUT_S
    )
    return {name for reply in replies for name in reply}


def jobs_enqueue_unsent() -> list[Job]:
    """Send again the queued jobs that the broker holds no message for: their enqueue failed
    (the broker was down at upload, retry or requeue), or the broker lost it (Redis restarted
    without its data). Their rows and files are whole; only the message is missing.

    Why read the broker rather than keep a column saying when it took the message: only the
    broker knows what it still holds (a column says nothing of a Redis that lost its data), and
    a long legitimate backlog has its messages there, so it gets no new ones. A job committed a
    moment ago, whose message is on its way, may be sent twice: its claim is atomic, so the
    second message finds it taken and ends."""
    sent = broker.jobs_with_messages()
    queued = Job.objects.filter(status=JobStatus.QUEUED, cancel_requested=False)
    unsent_ids = set(queued.values_list("pk", flat=True)) - sent
    unsent = list(queued.filter(pk__in=unsent_ids).order_by("created_at", "id"))
    for job in unsent:
        logger.warning("Job %s was queued without a message in the broker; sending it", job.pk)
        broker.enqueue(job)
    return unsent


def _requeue(jobs: Iterable[Job], *, why: str) -> list[Job]:
    return [job for job in jobs if services.job_requeue(job=job, why=why)]
