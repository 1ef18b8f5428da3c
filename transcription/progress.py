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

from gpu_engine.stages import Stage
from transcription import queue
from transcription.models import Job

logger = logging.getLogger(__name__)

EVENT_TYPE = "job.progress"
WORKSPACES_EVENT_TYPE = "workspaces.changed"
# The waiting jobs' places moved; its payload is {"queue": "moved", "team": team or null}.
QUEUE_EVENT_TYPE = "queue.moved"
# A Redis that does not answer (a network partition, not a refusal) must not hold up the job's
# thread, which also writes its heartbeat.
SEND_TIMEOUT_S = 5


class ProgressPayload(TypedDict):
    job: int
    recording: int
    owner: int  # the recording's uploader: their pages say when its job ends
    team: int | None  # the recording's team; None in its uploader's personal workspace
    status: str  # queued | running | succeeded | failed | cancelled
    stage: Stage
    progress: float  # 0-100
    message: str
    error: str


def user_group(user_id: int) -> str:
    return f"jobs.user.{user_id}"


def team_group(team_id: int) -> str:
    """Every member of the team: events of its recordings that are not private."""
    return f"jobs.team.{team_id}"


def team_managers_group(team_id: int) -> str:
    """The team's owners and admins: events of its private recordings too."""
    return f"jobs.team.{team_id}.managers"


def payload_for(job: Job) -> ProgressPayload:
    return ProgressPayload(
        job=job.pk,
        recording=job.recording_id,
        owner=job.recording.owner_id,
        team=job.recording.team_id,
        status=job.status,
        stage=job.stage,
        progress=job.progress,
        message=job.message,
        error=job.error,
    )


def audiences(job: Job) -> list[tuple[str, dict]]:
    """(group, event) for each group that may see the job, as transcription.selectors says."""
    event = {"type": EVENT_TYPE, "payload": payload_for(job)}
    recording = job.recording
    return _audiences(event, recording.owner_id, recording.team_id, recording.private)


def _audiences(
    event: dict, owner_id: int, team_id: int | None, private: bool
) -> list[tuple[str, dict]]:
    """The groups that see a recording of this uploader, team and privacy. The uploader of a
    private team recording hears it through its own group, marked so that an uploader who also
    manages the team (and hears it through the managers' group) skips it."""
    if team_id is None:
        return [(user_group(owner_id), event)]
    if not private:
        return [(team_group(team_id), event)]
    return [
        (team_managers_group(team_id), event),
        (user_group(owner_id), {**event, "uploader_copy": True}),
    ]


def publish(job: Job) -> None:
    """Tell those who may see the job its state as it is now, once the transaction that wrote
    it commits (at once outside one). Best effort, as Zulip's send_event_on_commit: a
    notification that cannot be sent is logged, and never fails, strands or hides the job."""
    for group, event in audiences(job):
        transaction.on_commit(lambda group=group, event=event: send_event(group, event))


def queue_moved(job: Job) -> None:
    """`job` was claimed, left the queue or came into it: the places of the waiting jobs behind
    it moved. Those who see them are told (no data: their pages re-read their waiting jobs from
    the API), one event per audience, however many of its jobs wait. After the commit, best
    effort, as publish."""
    transaction.on_commit(lambda: _send_all(_queue_audiences(job)))


def _queue_audiences(job: Job) -> list[tuple[str, dict]]:
    return [
        (group, event)
        for owner_id, team_id, private in queue.audiences_behind(job.priority, job.queued_at)
        for group, event in _audiences(
            {"type": QUEUE_EVENT_TYPE, "payload": {"queue": "moved", "team": team_id}},
            owner_id,
            team_id,
            private,
        )
    ]


def workspaces_changed(user_id: int) -> None:
    """The user's teams or roles changed: their open sockets join and leave groups to match."""
    send_event(user_group(user_id), {"type": WORKSPACES_EVENT_TYPE})


def send_event(group: str, event: dict) -> None:
    """Best effort: an event the channel layer cannot take is logged, never raised."""
    try:
        async_to_sync(_group_send)(group, event)
    except Exception:
        logger.warning("Event %s to %s not sent", event["type"], group, exc_info=True)


async def _group_send(group: str, event: dict) -> None:
    await asyncio.wait_for(get_channel_layer().group_send(group, event), SEND_TIMEOUT_S)


def _send_all(events: list[tuple[str, dict]]) -> None:
    """Many events at once, within one SEND_TIMEOUT_S in all (a worker's job thread sends the
    queue's after each claim)."""
    if not events:
        return
    try:
        async_to_sync(_group_send_all)(events)
    except Exception:
        logger.warning("%s queue events not sent", len(events), exc_info=True)


async def _group_send_all(events: list[tuple[str, dict]]) -> None:
    layer = get_channel_layer()
    sends = (layer.group_send(group, event) for group, event in events)
    await asyncio.wait_for(asyncio.gather(*sends), SEND_TIMEOUT_S)
