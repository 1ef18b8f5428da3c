"""The one module that tells browsers about job progress.

The database is the truth; the websocket only notifies. A client that (re)connects reads the
current state from the API, so a dropped message (channels_redis drops past its capacity, or
Redis is down) loses nothing.
"""

import asyncio
import logging
from typing import TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from transcription.models import Job

logger = logging.getLogger(__name__)

EVENT_TYPE = "job.progress"
# A Redis that does not answer (a network partition, not a refusal) must not hold up the job's
# thread, which also writes its heartbeat.
SEND_TIMEOUT_S = 5


class ProgressPayload(TypedDict):
    job: int
    recording: int
    status: str  # queued | running | succeeded | failed | cancelled
    stage: str  # queued | downloading_model | decoding | segmenting | transcribing | finalizing
    progress: float  # 0-100
    message: str
    error: str


def user_group(user_id: int) -> str:
    return f"jobs.user.{user_id}"


def payload_for(job: Job) -> ProgressPayload:
    return ProgressPayload(
        job=job.pk,
        recording=job.recording_id,
        status=job.status,
        stage=job.stage,
        progress=job.progress,
        message=job.message,
        error=job.error,
    )


def publish(job: Job) -> None:
    """Tell the job's owner its state as it is now, once the transaction that wrote it commits
    (at once outside one). Best effort, as Zulip's send_event_on_commit: a notification that
    cannot be sent is logged, and never fails, strands or hides the job."""
    group, event = user_group(job.owner_id), {"type": EVENT_TYPE, "payload": payload_for(job)}
    transaction.on_commit(lambda: _send(group, event))


def _send(group: str, event: dict) -> None:
    try:
        async_to_sync(_group_send)(group, event)
    except Exception:
        logger.warning("Progress of job %s not sent", event["payload"]["job"], exc_info=True)


async def _group_send(group: str, event: dict) -> None:
    await asyncio.wait_for(get_channel_layer().group_send(group, event), SEND_TIMEOUT_S)
