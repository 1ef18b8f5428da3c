from celery import shared_task

from transcription import runner


@shared_task(bind=True, name="transcription.transcribe_job")
def transcribe_job(self, job_id: int) -> None:
    runner.run_job(job_id, worker=self.request.hostname or "worker")
