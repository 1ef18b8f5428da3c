"""Bulk actions on the recordings chosen in the History: a zip of their transcripts, delete,
re-run. Nothing is skipped silently: an id the user may not see is reported as not found, one
they see but may not change as refused, each with its reason."""

import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO

from django.contrib.auth.models import AbstractBaseUser
from django.utils.translation import gettext as _

from transcription import selectors, services
from transcription.exports import export_job
from transcription.models import Job, JobStatus, Recording

# A zip is spooled in memory up to this size, then on disk.
SPOOL_BYTES = 8 * 1024 * 1024


@dataclass
class Outcome:
    done: list[int] = field(default_factory=list)
    refused: list[dict] = field(default_factory=list)  # {"id", "reason"}

    def refuse(self, pk: int, reason: str) -> None:
        self.refused.append({"id": pk, "reason": reason})


def latest_job(recording: Recording) -> Job | None:
    return next(iter(recording.jobs.all()), None)  # latest first (selectors.recordings_for)


def transcripts_zip(user: AbstractBaseUser, ids: Sequence[int], fmt: str) -> IO[bytes]:
    """A zip, rewound, of the latest transcript of each recording `ids` names that `user` sees,
    in `fmt`; README.txt in it lists those left out and why."""
    visible = selectors.recordings_for(user).in_bulk(ids)
    left_out = []
    # Handed to the response, which closes it once sent.
    spooled = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
    with zipfile.ZipFile(spooled, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for pk in ids:
            recording = visible.get(pk)
            job = latest_job(recording) if recording else None
            if recording is None:
                left_out.append(_("recording %(id)s: not found") % {"id": pk})
            elif job is None or job.status != JobStatus.SUCCEEDED:
                status = job.status if job else _("never transcribed")
                left_out.append(
                    _("%(name)s (recording %(id)s): no finished transcript (%(status)s)")
                    % {"name": recording.name, "id": pk, "status": status}
                )
            else:
                export = export_job(job, fmt)
                stem = recording.name.rsplit(".", 1)[0] or "transcript"
                archive.writestr(f"{pk}-{stem}.{export.extension}", export.content)
        archive.writestr("README.txt", readme(len(ids) - len(left_out), left_out))
    spooled.seek(0)
    return spooled


def readme(exported: int, left_out: list[str]) -> str:
    lines = [_("%(count)s transcript(s) exported.") % {"count": exported}]
    if left_out:
        lines += ["", _("Left out:"), *(f"- {line}" for line in left_out)]
    return "\n".join(lines) + "\n"


def _steered(user: AbstractBaseUser, ids: Sequence[int], outcome: Outcome) -> list[Recording]:
    """The recordings of `ids` that `user` may change; the others go into `outcome.refused`."""
    visible = selectors.recordings_for(user).in_bulk(ids)
    managed = set(
        selectors.recordings_managed_by(user).filter(pk__in=ids).values_list("pk", flat=True)
    )
    steered = []
    for pk in ids:
        if pk not in visible:
            outcome.refuse(pk, _("Not found."))
        elif pk not in managed:
            outcome.refuse(
                pk,
                _("Only its uploader and the team's owners and admins can change this recording."),
            )
        else:
            steered.append(visible[pk])
    return steered


def recordings_delete(user: AbstractBaseUser, ids: Sequence[int]) -> Outcome:
    outcome = Outcome()
    for recording in _steered(user, ids, outcome):
        outcome.done.append(recording.pk)  # before the delete, which clears it
        services.recording_delete(recording=recording)
    return outcome


def recordings_rerun(user: AbstractBaseUser, ids: Sequence[int]) -> Outcome:
    """Each recording's latest job run again (services.job_retry, which refuses active jobs and
    recordings without audio)."""
    outcome = Outcome()
    for recording in _steered(user, ids, outcome):
        job = latest_job(recording)
        if job is None:
            outcome.refuse(recording.pk, _("It has no job to run again."))
            continue
        try:
            services.job_retry(job=job, by=user)
        except ValueError as refusal:
            outcome.refuse(recording.pk, _("Cannot re-run: %s.") % refusal)
            continue
        outcome.done.append(recording.pk)
    return outcome
