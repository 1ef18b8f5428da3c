"""Writes: storing uploads, creating and steering jobs, saving results."""

import contextlib
import logging
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from accounts.models import Team
from transcription import broker, editing, progress, quotas
from transcription.hotwords import hotwords_for_job
from transcription.models import (
    NO_TELEMETRY,
    Job,
    JobStatus,
    JobTelemetry,
    Recording,
    Segment,
    Tag,
)
from transcription.probe import RejectedUpload, probe_audio
from transcription.selectors import PERSONAL

logger = logging.getLogger(__name__)

MAX_NAME_LENGTH = 200
UNEXPECTED_UPLOAD_ERROR = "the file could not be stored (unexpected error); try again"


@dataclass(frozen=True)
class JobRequest:
    model: str
    language: str = "auto"
    hotwords: str = ""
    itn: bool = True
    # Who spoke when; the counts None: found by diarization.
    speakers: bool = False
    num_speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None


@dataclass(frozen=True)
class Placement:
    """Where new recordings go: the uploader's personal workspace (no team) or a team of theirs,
    where `private` ones are seen by their uploader and the team's owners and admins only."""

    team: Team | None = None
    private: bool = False

    @property
    def workspace(self) -> Team | str:
        return self.team or PERSONAL


@dataclass(frozen=True)
class Rejection:
    file: str
    reason: str
    # The workspace's limit the file would pass; None: the file itself was refused.
    over_quota: quotas.Limit | None = None


def display_name(name: str) -> str:
    """A name made safe to show and to save as: no control or bidi-override characters, no path
    separators (a download named after it could land in another folder), bounded length."""
    name = "".join(c for c in name if unicodedata.category(c) not in {"Cc", "Cf"})
    name = name.replace("/", "-").replace("\\", "-").strip()
    return name[:MAX_NAME_LENGTH] or "recording"


def upload_display_name(filename: str) -> str:
    """An uploaded file's name without any client-side path."""
    return display_name(filename.replace("\\", "/").rsplit("/", 1)[-1])


def recordings_create(
    *,
    owner: AbstractBaseUser,
    files: Iterable[UploadedFile],
    options: JobRequest,
    placement: Placement | None = None,
) -> tuple[list[Job], list[Rejection]]:
    """Store each acceptable file with a queued job; reject the others by name with a reason."""
    jobs, rejected = [], []
    placement = placement or Placement()
    hotwords = hotwords_for_job(owner=owner, team=placement.team, typed=options.hotwords)
    options = replace(options, hotwords=hotwords)
    for upload in files:
        name = upload_display_name(upload.name or "")
        try:
            jobs.append(
                _recording_create(
                    owner=owner, upload=upload, name=name, options=options, placement=placement
                )
            )
        except quotas.QuotaExceeded as refusal:
            rejected.append(Rejection(file=name, reason=str(refusal), over_quota=refusal.limit))
        except RejectedUpload as rejection:
            rejected.append(Rejection(file=name, reason=str(rejection)))
        except Exception:
            # One file's failure is that file's answer; the others are still judged on their own.
            logger.exception("Storing upload %r failed", name)
            rejected.append(Rejection(file=name, reason=UNEXPECTED_UPLOAD_ERROR))
        finally:
            upload.close()
    return jobs, rejected


def _recording_create(
    *,
    owner: AbstractBaseUser,
    upload: UploadedFile,
    name: str,
    options: JobRequest,
    placement: Placement,
) -> Job:
    if getattr(upload, "oversized", False):
        raise RejectedUpload(f"the file is larger than the {settings.MAX_UPLOAD_MB} MB limit")
    info = probe_audio(
        Path(upload.temporary_file_path()), max_seconds=settings.MAX_AUDIO_HOURS * 3600
    )
    recording = Recording(
        owner=owner,
        team=placement.team,
        private=placement.private,
        name=name,
        size_bytes=upload.size,
        container=info.container,
        codec=info.codec,
        sample_rate=info.sample_rate,
        channels=info.channels,
        duration_s=info.duration_s,
    )
    try:
        with transaction.atomic():
            # Before anything is stored; the workspace stays locked until this commits.
            quotas.ensure_room(
                placement.workspace, owner, size_bytes=upload.size, duration_s=info.duration_s
            )
            # The upload itself, not a File around it: storage moves a file kept on disk
            # (temporary_file_path) instead of writing its bytes a second time.
            recording.file.save("original", upload, save=False)
            recording.save()
            job = Job.objects.create(
                recording=recording,
                owner=owner,
                model=options.model,
                language=options.language,
                hotwords=options.hotwords,
                itn=options.itn,
                identify_speakers=options.speakers,
                num_speakers=options.num_speakers,
                min_speakers=options.min_speakers,
                max_speakers=options.max_speakers,
            )
            _enqueue_on_commit(job)
    except Exception:
        # Nothing half-written stays behind: the stored copy goes with the failed rows, and so
        # does a copy cut short (the storage names it only once it is complete).
        stored = recording.file.name or recording.file.field.generate_filename(
            recording, "original"
        )
        recording.file.storage.delete(stored)
        raise
    return job


def _enqueue_on_commit(job: Job) -> None:
    # Never raises: a broker that is down leaves the job queued with its file, for the janitor.
    transaction.on_commit(lambda: broker.enqueue(job))


def recording_rename(*, recording: Recording, name: str) -> Recording:
    recording.name = display_name(name)
    recording.save(update_fields=["name"])
    return recording


def recording_move(*, recording: Recording, team: Team, private: bool = False) -> Recording:
    """From its uploader's personal workspace into a team of theirs (the API checks both)."""
    names = [tag.name for tag in recording.tags.all()]
    recording.team, recording.private = team, private
    recording.save(update_fields=["team", "private"])
    recording_set_tags(recording=recording, names=names)  # the team's tags of the same names
    for job in recording.jobs.all():
        progress.publish(job)  # the team's members see it from now on
    return recording


def recording_set_tags(*, recording: Recording, names: Iterable[str]) -> Recording:
    """The recording's tags become `names`, those of its workspace (made when missing)."""
    workspace = {"team": recording.team} if recording.team_id else {"owner": recording.owner}
    wanted = {" ".join(name.split()) for name in names} - {""}
    tags = [Tag.objects.get_or_create(name=name, **workspace)[0] for name in sorted(wanted)]
    recording.tags.set(tags)
    return recording


def recording_set_private(*, recording: Recording, private: bool) -> Recording:
    recording.private = private
    recording.save(update_fields=["private"])
    return recording


def recording_delete(*, recording: Recording) -> None:
    """Delete the recording, its jobs and its stored audio; running jobs are told to stop."""
    for job in recording.jobs.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]):
        _cancel(job)
    files = [f for f in (recording.file, recording.playback_file) if f]
    recording.delete()
    for stored in files:
        _stored_file_delete(stored)


def recording_audio_remove(*, recording: Recording) -> None:
    """Delete the stored audio (original and playback copy) and mark it removed; the jobs,
    transcripts and segments stay. The files go first: should marking fail, the next run
    deletes nothing more and marks it then, where the other order could leave files for ever."""
    for stored in (recording.file, recording.playback_file):
        if stored:
            _stored_file_delete(stored)
    recording.audio_removed_at = timezone.now()
    recording.save(update_fields=["audio_removed_at"])


def _stored_file_delete(stored: FieldFile) -> None:
    stored.storage.delete(stored.name)
    # On the local disk the recording's folder goes too once empty; object storage has none
    # (no local path: NotImplementedError).
    with contextlib.suppress(NotImplementedError, OSError):
        Path(stored.path).parent.rmdir()


def job_cancel(*, job: Job, by: AbstractBaseUser | None = None) -> Job:
    """`by`: site staff cancelling someone's job (the job names them)."""
    _cancel(job, by=by)
    progress.publish(job)
    return job


def _cancel(job: Job, *, by: AbstractBaseUser | None = None) -> None:
    was_waiting = job.status == JobStatus.QUEUED
    job.request_cancel(by=by)
    if was_waiting:
        progress.queue_moved(job)  # it left the queue: those behind it move up


def job_retry(*, job: Job, by: AbstractBaseUser | None = None, choices: dict | None = None) -> Job:
    """Run it again; a transcript it has (edited or not) is kept as a revision first, `by`
    its author. `choices` (model, language, hotwords, itn; validated) replace the job's."""
    if job.is_active:
        raise ValueError("the job is still queued or running")
    if not job.recording.has_audio:
        raise ValueError(
            "the recording's audio was removed (retention); only its transcript is left"
        )
    with transaction.atomic():
        editing.keep_for_rerun(job=job, author=by)
        for name, value in (choices or {}).items():
            setattr(job, name, value)
        job.reset_for_retry()
        _enqueue_on_commit(job)
        progress.publish(job)
    return job


def job_requeue(*, job: Job, why: str) -> bool:
    """Back to the queue, its task sent again; False when it had finished or been claimed again
    meanwhile (the release is fenced by the claim this instance holds)."""
    with transaction.atomic():
        if not job.release():
            return False
        _enqueue_on_commit(job)
        progress.publish(job)
    logger.warning("Requeued job %s: %s", job.pk, why)
    return True


@transaction.atomic
def job_store_transcript(
    *,
    job: Job,
    language: str,
    text: str,
    segments: Sequence[tuple[float, float, str, str]],
    telemetry: JobTelemetry = NO_TELEMETRY,
) -> None:
    """Replace any partial result of an earlier attempt, then mark the job succeeded. Each
    segment is (start, end, text, speaker label: "" when speakers were not identified); the
    labels found start unnamed."""
    job.segments.all().delete()
    stored = Segment.objects.bulk_create(
        Segment(job=job, index=i, start=start, end=end, text=text, speaker=speaker)
        for i, (start, end, text, speaker) in enumerate(segments)
    )
    job.mark_succeeded(
        language=language,
        text=text,
        speaker_names={segment.speaker: "" for segment in stored if segment.speaker},
        telemetry=telemetry,
    )
    editing.rerun_finished(job=job)
