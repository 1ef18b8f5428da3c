"""Audio retention: a team with `audio_retention_days` keeps its recordings' audio that many
days; older audio is deleted from storage (sent hourly by beat), their transcripts stay."""

import logging
from datetime import timedelta

from django.utils import timezone

from accounts.models import Team
from transcription import services
from transcription.models import ACTIVE_STATUSES, Recording

logger = logging.getLogger(__name__)


def expired_audio_remove() -> int:
    """Delete the audio of the recordings older than their team keeps it; returns how many.

    Idempotent: a recording whose audio is gone is not looked at again. One whose file cannot
    be deleted is logged and left for the next run; the others go on. A recording with a job
    queued or running keeps its audio until the job ends, the worker reading it meanwhile.
    """
    removed = 0
    now = timezone.now()
    for team in Team.objects.filter(audio_retention_days__isnull=False):
        expired = Recording.objects.filter(
            team=team,
            audio_removed_at__isnull=True,
            created_at__lt=now - timedelta(days=team.audio_retention_days),
        ).exclude(jobs__status__in=ACTIVE_STATUSES)
        for recording in expired:
            try:
                services.recording_audio_remove(recording=recording)
            except Exception:
                logger.exception("Could not remove the audio of recording %s", recording.pk)
            else:
                removed += 1
    return removed
