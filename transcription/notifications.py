"""The e-mail a user gets when a long job of theirs ends (accounts.Preferences.email_after_minutes;
off by default). Sent by the worker after the commit that ended the job, best effort: a mail
that cannot be sent is logged and never fails or strands the job."""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import Preferences
from transcription.models import Job

logger = logging.getLogger(__name__)


def email_when_long(job: Job) -> None:
    """Once the ending commits: an e-mail to the uploader if the job ran at least as long as
    their threshold."""
    transaction.on_commit(lambda: _send_if_long(job))


def run_time(job: Job) -> timedelta | None:
    if job.started_at is None or job.finished_at is None:
        return None
    return job.finished_at - job.started_at


def _send_if_long(job: Job) -> None:
    try:
        owner = job.recording.owner
        threshold = (
            Preferences.objects.filter(user=owner).values_list("email_after_minutes", flat=True)
        ).first()
        ran = run_time(job)
        if threshold is None or ran is None or ran < timedelta(minutes=threshold):
            return
        if not owner.email or not settings.PUBLIC_URL:
            logger.info("Job %s: no e-mail (no address or no PUBLIC_URL for the link)", job.pk)
            return
        link = settings.PUBLIC_URL.rstrip("/") + reverse("recording", args=[job.recording_id])
        context = {"job": job, "name": job.recording.name, "link": link}
        send_mail(
            subject=_("Voxa: %(status)s: %(name)s")
            % {"status": job.get_status_display(), "name": " ".join(job.recording.name.split())},
            message=render_to_string("transcription/job_ended_email.txt", context),
            from_email=None,  # DEFAULT_FROM_EMAIL
            recipient_list=[owner.email],
        )
    except Exception:
        logger.exception("Job %s: the job-ended e-mail was not sent", job.pk)
