"""The one module that tells browsers about job progress.

The database is the truth; the websocket only notifies. A client that (re)connects reads the
current state from the API, so a dropped message (channels_redis drops past its capacity) loses
nothing.
"""

from typing import TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from transcription.models import Job

EVENT_TYPE = "job.progress"


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
    async_to_sync(get_channel_layer().group_send)(
        user_group(job.owner_id), {"type": EVENT_TYPE, "payload": payload_for(job)}
    )
