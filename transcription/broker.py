"""The jobs' side of the Celery broker: sending a job's task, and reading which jobs the broker
still holds a message for (for the janitor, which sends again the jobs whose message is lost)."""

import json
import logging
import re

from django.conf import settings

from portal.celery import app as celery_app
from transcription.models import Job

logger = logging.getLogger(__name__)

TRANSCRIBE_TASK = "transcription.transcribe_job"
_TASK_ID = re.compile(r"job-(\d+)-\d+")


def task_id(job: Job) -> str:
    """One per job and attempt: the worker's log names the job, and the janitor finds it."""
    return f"job-{job.pk}-{job.attempts + 1}"


def enqueue(job: Job) -> bool:
    """Send the job's task; False when the broker does not take it. The job then stays queued
    with its file, and the janitor sends it again once the broker is back: an unreachable broker
    never fails a request, nor a job."""
    try:
        celery_app.send_task(
            TRANSCRIBE_TASK,
            args=(job.pk,),
            task_id=task_id(job),
            queue=settings.CELERY_TASK_DEFAULT_QUEUE,
        )
    except Exception:
        logger.warning(
            "Job %s stays queued: the broker did not take its task (the janitor sends it again)",
            job.pk,
            exc_info=True,
        )
        return False
    return True


def jobs_with_messages() -> set[int]:
    """The jobs named by a message that waits in the job queue or was delivered to a worker and
    not yet acknowledged. Read from kombu's Redis layout: a list per queue and priority, and
    the `unacked` hash of delivered messages ([message, exchange, routing key] each)."""
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    with celery_app.connection_for_read() as connection:
        channel = connection.default_channel
        # One transaction: a message that moves from the queue to `unacked` meanwhile is seen.
        snapshot = channel.client.pipeline(transaction=True)
        for priority in channel.priority_steps:
            snapshot.lrange(channel._q_for_pri(queue, priority), 0, -1)
        snapshot.hvals(channel.unacked_key)
        *waiting, delivered = snapshot.execute()
    messages = [json.loads(message) for messages in waiting for message in messages]
    # `unacked` holds the delivered messages of every queue in this Redis database.
    for message, _exchange, routing_key in map(json.loads, delivered):
        if routing_key == queue:
            messages.append(message)
    return {
        int(match[1])
        for message in messages
        if (match := _TASK_ID.fullmatch(message.get("headers", {}).get("id", "")))
    }
