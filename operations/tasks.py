from celery import shared_task
from celery.signals import worker_ready

from operations import supervision


# The name predates this module: beat's schedule and messages already queued still name it.
@shared_task(name="transcription.requeue_stalled_jobs")
def requeue_stalled_jobs() -> None:
    """The janitor, sent by beat: jobs whose worker died for good, and jobs whose message the
    broker never got or lost."""
    supervision.jobs_requeue_stalled()
    supervision.jobs_enqueue_unsent()


@worker_ready.connect
def requeue_orphaned_jobs(sender, **kwargs) -> None:
    supervision.jobs_requeue_orphaned(worker=sender.hostname)
