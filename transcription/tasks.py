from celery import shared_task
from celery.signals import worker_ready

from transcription import runner, services


@shared_task(bind=True, name="transcription.transcribe_job")
def transcribe_job(self, job_id: int) -> None:
    runner.run_job(job_id, worker=self.request.hostname or "worker")


@worker_ready.connect
def requeue_orphaned_jobs(sender, **kwargs) -> None:
    services.jobs_requeue_orphaned(worker=sender.hostname)
