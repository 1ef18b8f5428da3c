"""The jobs' side of the Celery broker: sending a job's task, and reading which jobs the broker
still holds a live message for (for the janitor, which sends again the jobs whose message is
lost)."""

import json
import logging
import re
import time

from django.conf import settings

from portal.celery import app as celery_app
from transcription import progress, queue
from transcription.models import Job

logger = logging.getLogger(__name__)

TRANSCRIBE_TASK = "transcription.transcribe_job"
_TASK_ID = re.compile(r"job-(\d+)-\d+")


def task_id(job: Job) -> str:
    """One per job and attempt: the worker's log names the job, and the janitor finds it."""
    return f"job-{job.pk}-{job.attempts + 1}"


def enqueue(job: Job) -> bool:
    """Send the job's task, in the priority band its owner's and workspace's other jobs give it
    (transcription.queue); False when the broker does not take it. The job then stays queued
    with its file and its place, and the janitor sends it again once the broker is back: an
    unreachable broker never fails a request, nor a job. Every (re)queue comes through here."""
    job.place_in_queue(priority=queue.band_for(job))
    progress.queue_moved(job)  # those behind it: a new job of band 0 goes before band 1
    try:
        celery_app.send_task(
            TRANSCRIBE_TASK,
            args=(job.pk,),
            task_id=task_id(job),
            queue=settings.CELERY_TASK_DEFAULT_QUEUE,
            priority=job.priority,
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
    """The jobs named by a message that waits in the job queue, or that was delivered to a
    worker less than JOB_CLAIM_GRACE_S ago and not yet acknowledged. A live worker claims its job
    within moments of delivery; a message delivered earlier whose job is still queued was taken
    by a worker that died before claiming it (SIGKILL, out of memory), and kombu keeps it aside
    until the visibility timeout, hours away. Read from kombu's Redis layout: a list per queue
    and priority, the `unacked` hash of delivered messages ([message, exchange, routing key]
    each, by delivery tag) and the `unacked_index` of their delivery times (the worker's clock:
    the grace covers a small skew between hosts)."""
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    delivered_since = time.time() - settings.JOB_CLAIM_GRACE_S
    with celery_app.connection_for_read() as connection:
        channel = connection.default_channel
        # One transaction: a message that moves from the queue to `unacked` meanwhile is seen.
        snapshot = channel.client.pipeline(transaction=True)
        for priority in channel.priority_steps:
            snapshot.lrange(channel._q_for_pri(queue, priority), 0, -1)
        snapshot.hgetall(channel.unacked_key)
        snapshot.zrangebyscore(channel.unacked_index_key, delivered_since, "+inf")
        *waiting, delivered, recent_tags = snapshot.execute()
    messages = [json.loads(message) for messages in waiting for message in messages]
    # `unacked` holds the delivered messages of every queue in this Redis database.
    for tag in set(recent_tags) & set(delivered):
        message, _exchange, routing_key = json.loads(delivered[tag])
        if routing_key == queue:
            messages.append(message)
    return {
        int(match[1])
        for message in messages
        if (match := _TASK_ID.fullmatch(message.get("headers", {}).get("id", "")))
    }
