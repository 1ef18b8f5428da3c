from celery import shared_task
from celery.signals import worker_ready

from transcription import runner, services, uploads


@shared_task(bind=True, name="transcription.transcribe_job")
def transcribe_job(self, job_id: int) -> None:
    runner.run_job(job_id, worker=self.request.hostname or "worker")


@shared_task(name="transcription.requeue_stalled_jobs")
def requeue_stalled_jobs() -> None:
    services.jobs_requeue_stalled()


@shared_task(name="transcription.expire_uploads")
def expire_uploads() -> None:
    uploads.uploads_expire()


@worker_ready.connect
def requeue_orphaned_jobs(sender, **kwargs) -> None:
    services.jobs_requeue_orphaned(worker=sender.hostname)
