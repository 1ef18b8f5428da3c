import os

from celery import shared_task
from celery.signals import worker_init, worker_shutting_down
from django.conf import settings

from transcription import broker, retention, runner, uploads


# A database that is down before the job is claimed: the task is tried again later; should that
# fail too, the job is still queued, and the janitor sends it again.
@shared_task(
    bind=True,
    name=broker.TRANSCRIBE_TASK,
    autoretry_for=runner.DATABASE_DOWN,
    retry_backoff=True,
)
def transcribe_job(self, job_id: int) -> None:
    runner.run_job(job_id, worker=self.request.hostname or "worker")


@shared_task(name="transcription.expire_uploads")
def expire_uploads() -> None:
    uploads.uploads_expire()


@shared_task(name="transcription.remove_expired_audio")
def remove_expired_audio() -> None:
    retention.expired_audio_remove()


@worker_init.connect
def lower_worker_priority(sender, **kwargs) -> None:
    """Where the web shares the host with the worker (one machine), pages and the API must stay
    quick while jobs use every core: the worker, and the speech detectors it starts, yield the
    CPU to the web. On a host of its own it changes nothing."""
    os.nice(settings.WORKER_NICE)


@worker_shutting_down.connect
def stop_running_jobs(sender, **kwargs) -> None:
    runner.stop_jobs()
