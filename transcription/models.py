import uuid
from dataclasses import asdict, dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from gpu_engine.stages import Stage


class StoredCopy(StrEnum):
    """A recording's files in the storage; the playback copy is the M4A gpu_engine writes."""

    ORIGINAL = "original"
    PLAYBACK = "playback.m4a"


# The fields' upload_to (migrations name them); the user's file name is ignored.
def recording_upload_path(recording: "Recording", filename: str) -> str:
    return recording.storage_name(StoredCopy.ORIGINAL)


def playback_upload_path(recording: "Recording", filename: str) -> str:
    return recording.storage_name(StoredCopy.PLAYBACK)


class Tag(models.Model):
    """A label people put on recordings, one set per workspace: a team's (team set, owner null)
    or a user's personal workspace's (owner set, team null)."""

    team = models.ForeignKey(
        "accounts.Team", on_delete=models.CASCADE, null=True, blank=True, related_name="tags"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True,
        related_name="tags",
    )  # fmt: skip
    name = models.CharField(max_length=40)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="unique_team_tag"),
            models.UniqueConstraint(fields=["owner", "name"], name="unique_personal_tag"),
            models.CheckConstraint(
                condition=models.Q(team__isnull=True) ^ models.Q(owner__isnull=True),
                name="tag_in_one_workspace",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Recording(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # The uploader. A recording without a team is in its uploader's personal workspace.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recordings"
    )
    team = models.ForeignKey(
        "accounts.Team", on_delete=models.CASCADE, null=True, blank=True, related_name="recordings"
    )
    # In a team: visible to its uploader and the team's owners and admins only.
    private = models.BooleanField(default=False)
    name = models.CharField(max_length=255)
    file = models.FileField(upload_to=recording_upload_path, max_length=255)
    # A copy the browser can play, made by the worker when the original is not playable there.
    playback_file = models.FileField(upload_to=playback_upload_path, max_length=255, blank=True)
    size_bytes = models.BigIntegerField()
    container = models.CharField(max_length=64)
    codec = models.CharField(max_length=64)
    sample_rate = models.PositiveIntegerField()
    channels = models.PositiveSmallIntegerField()
    # From the container header at upload; replaced by the decoded length once the worker has it.
    duration_s = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # When the team's retention deleted the audio (the transcripts stay).
    audio_removed_at = models.DateTimeField(null=True, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="recordings")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["team", "-created_at"])]

    def __str__(self) -> str:
        return self.name

    @property
    def has_audio(self) -> bool:
        return self.audio_removed_at is None

    def storage_name(self, copy: StoredCopy) -> str:
        """Where `copy` of this recording lives in the storage (local disk or a bucket): a
        server-generated name; the user's file name is kept for display only."""
        return f"recordings/{self.uuid}/{copy}"


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


# The engine's stages as the field's choices, so there is no second list to keep in step.
JobStage = models.TextChoices("JobStage", [(stage.name, stage.value) for stage in Stage])


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)


@dataclass(frozen=True)
class JobTelemetry:
    """Where one attempt's time went, on what and how fast: measured by the worker that ran it
    (transcription.runner), stored with the job as it finishes. None where not measured."""

    queue_wait_s: float | None = None
    decoding_s: float | None = None
    speech_detection_s: float | None = None
    recognition_s: float | None = None
    speed_x: float | None = None
    device: str = ""
    peak_gpu_bytes: int | None = None


NO_TELEMETRY = JobTelemetry()


class JobLost(Exception):
    """The worker running a job no longer holds it: a later claim took it over (its worker was
    thought dead), or it was deleted. That worker stops and writes nothing more to it."""


class Job(models.Model):
    """One recognition run over a recording. Status changes only through the methods below."""

    recording = models.ForeignKey(Recording, on_delete=models.CASCADE, related_name="jobs")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs"
    )
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    stage = models.CharField(max_length=24, choices=JobStage.choices, default=JobStage.QUEUED)
    progress = models.FloatField(default=0)
    message = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)

    model = models.CharField(max_length=64)
    language = models.CharField(max_length=16, default="auto")
    hotwords = models.TextField(blank=True)
    itn = models.BooleanField(default=True)
    # Who spoke when: found after recognition when asked, the count free unless given.
    identify_speakers = models.BooleanField(default=False)
    num_speakers = models.PositiveSmallIntegerField(null=True, blank=True)
    min_speakers = models.PositiveSmallIntegerField(null=True, blank=True)
    max_speakers = models.PositiveSmallIntegerField(null=True, blank=True)

    attempts = models.PositiveSmallIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    # Who asked for the cancel, when it was not the owner (site staff, from the workers page).
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # The broker priority its message was last sent with (0 runs first), and when: a job's place
    # in the queue is (priority, queued_at).
    priority = models.PositiveSmallIntegerField(default=0)
    queued_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=255, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # Telemetry of the attempt that finished it: where its time went, on what, how fast.
    queue_wait_s = models.FloatField(null=True, blank=True)
    decoding_s = models.FloatField(null=True, blank=True)
    speech_detection_s = models.FloatField(null=True, blank=True)
    recognition_s = models.FloatField(null=True, blank=True)
    # Audio seconds per wall second of the attempt.
    speed_x = models.FloatField(null=True, blank=True)
    device = models.CharField(max_length=64, blank=True)
    peak_gpu_bytes = models.BigIntegerField(null=True, blank=True)

    # The transcript, filled when the job succeeds (segments in Segment).
    detected_language = models.CharField(max_length=16, blank=True)
    text = models.TextField(blank=True)
    # Speaker label (as on its segments) -> the name people gave it; a label without one is
    # shown as the label.
    speaker_names = models.JSONField(default=dict, blank=True)
    # Bumped by every edit of the transcript (each one a Revision): a save made on an older
    # version is refused.
    transcript_version = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at"]),
            # The queue in the order it runs (transcription.queue).
            models.Index(fields=["status", "priority", "queued_at"], name="job_queue_order"),
            # A recording's latest job (the History's filters and search).
            models.Index(fields=["recording", "-created_at", "-id"], name="job_latest_first"),
        ]

    def __str__(self) -> str:
        return f"Job {self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def speaker_name(self, label: str) -> str:
        """What people see for a speaker: the name given to it, else its label."""
        return self.speaker_names.get(label) or label

    @property
    def text_language(self) -> str:
        """The transcript's language code, for the pages' lang attributes ("": unknown)."""
        return self.detected_language or ("" if self.language == "auto" else self.language)

    @property
    def hotword_list(self) -> list[str]:
        return [line.strip() for line in self.hotwords.splitlines() if line.strip()]

    def claim(self, *, worker: str) -> bool:
        """Take the job for this worker; False when it is finished or another live worker has it.

        A running job whose heartbeat went stale belonged to a worker that died: a redelivered
        task takes it over. Every claim counts as an attempt.
        """
        now = timezone.now()
        stale_before = now - timedelta(seconds=settings.JOB_STALE_AFTER_S)
        claimable = Q(status=JobStatus.QUEUED) | Q(
            status=JobStatus.RUNNING, heartbeat_at__lt=stale_before
        )
        taken = Job.objects.filter(claimable, pk=self.pk, cancel_requested=False).update(
            status=JobStatus.RUNNING,
            stage=JobStage.DECODING,
            progress=0,
            message="",
            attempts=F("attempts") + 1,
            worker=worker,
            heartbeat_at=now,
            started_at=now,
        )
        self.refresh_from_db()
        return bool(taken)

    def place_in_queue(self, *, priority: int) -> None:
        """Its message goes to the broker now, in this band: its place in the queue is
        (priority, queued_at), the order the broker serves. Only while it is still queued."""
        self.priority, self.queued_at = priority, timezone.now()
        Job.objects.filter(pk=self.pk, status=JobStatus.QUEUED).update(
            priority=self.priority, queued_at=self.queued_at
        )

    def release(self) -> bool:
        """Back to the queue: its worker stopped without finishing it. Attempts are kept.
        False when the job had moved on meanwhile (finished, or claimed again)."""
        released = self._as_held().update(
            status=JobStatus.QUEUED,
            stage=JobStage.QUEUED,
            progress=0,
            message="",
            worker="",
            heartbeat_at=None,
        )
        self.refresh_from_db()
        return bool(released)

    def record_progress(self, *, stage: str, progress: float, message: str = "") -> None:
        self.stage = stage
        self.progress = round(max(0.0, min(progress, 100.0)), 1)
        self.message = message[:255]
        self.heartbeat_at = timezone.now()
        self._update_as_holder(
            stage=self.stage,
            progress=self.progress,
            message=self.message,
            heartbeat_at=self.heartbeat_at,
        )

    def mark_succeeded(
        self,
        *,
        language: str,
        text: str,
        speaker_names: dict[str, str] | None = None,
        telemetry: JobTelemetry = NO_TELEMETRY,
    ) -> None:
        """`speaker_names`: the labels this run found, each with its name ("" while unnamed)."""
        self._finish(
            JobStatus.SUCCEEDED,
            telemetry,
            detected_language=language,
            text=text,
            speaker_names=speaker_names or {},
            progress=100,
        )

    def mark_failed(self, *, reason: str, telemetry: JobTelemetry = NO_TELEMETRY) -> None:
        self._finish(JobStatus.FAILED, telemetry, error=reason)

    def mark_cancelled(self, *, telemetry: JobTelemetry = NO_TELEMETRY) -> None:
        self._finish(JobStatus.CANCELLED, telemetry)

    def _finish(self, status: str, telemetry: JobTelemetry, **fields: object) -> None:
        fields.update(asdict(telemetry), status=status, finished_at=timezone.now(), message="")
        self._update_as_holder(**fields)
        for name, value in fields.items():
            setattr(self, name, value)

    def _as_held(self) -> models.QuerySet["Job"]:
        """This job, only while it is still running under the claim this instance made or read."""
        return Job.objects.filter(
            pk=self.pk, status=JobStatus.RUNNING, worker=self.worker, attempts=self.attempts
        )

    def _update_as_holder(self, **fields: object) -> None:
        # Fenced by the claim: a worker that was taken for dead, but was only slow, must not
        # overwrite the run that took over from it.
        if not self._as_held().update(**fields):
            raise self._lost()

    def _lost(self) -> JobLost:
        return JobLost(f"Job {self.pk} is no longer held by {self.worker}, attempt {self.attempts}")

    def request_cancel(self, *, by: AbstractBaseUser | None = None) -> None:
        """A queued job ends at once; a running one stops at its next segment. `by`: who asked,
        when not the owner (site staff); the first to ask is the one named."""
        active = Job.objects.filter(pk=self.pk, status__in=ACTIVE_STATUSES)
        # From here on no worker can claim it.
        active.filter(cancel_requested=False).update(cancel_requested=True, cancelled_by=by)
        active.filter(status=JobStatus.QUEUED).update(
            status=JobStatus.CANCELLED, finished_at=timezone.now(), message=""
        )
        self.refresh_from_db()

    def cancel_was_requested(self) -> bool:
        """Asked by the worker holding the job: JobLost once it no longer holds it."""
        requested = self._as_held().values_list("cancel_requested", flat=True).first()
        if requested is None:
            raise self._lost()
        return requested

    def reset_for_retry(self) -> None:
        self.segments.all().delete()
        self.status = JobStatus.QUEUED
        self.stage = JobStage.QUEUED
        self.progress = 0
        self.message = ""
        self.error = ""
        self.attempts = 0
        self.cancel_requested = False
        self.cancelled_by = None
        self.worker = ""
        self.heartbeat_at = None
        self.started_at = None
        self.finished_at = None
        self.detected_language = ""
        self.text = ""
        for name, value in asdict(NO_TELEMETRY).items():
            setattr(self, name, value)
        self.save()


class HotwordList(models.Model):
    """Saved hotwords: a user's own, added to every new job of theirs, or a team's, added to
    every job of the team's recordings. Only active lists are added."""

    # Who made it; a team's list belongs to the team.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="hotword_lists"
    )
    team = models.ForeignKey(
        "accounts.Team",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="hotword_lists",
    )
    name = models.CharField(max_length=100)
    words = models.TextField()
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "name"],
                condition=Q(team__isnull=True),
                name="unique_hotword_list_name",
            ),
            models.UniqueConstraint(
                fields=["team", "name"],
                condition=Q(team__isnull=False),
                name="unique_team_hotword_list_name",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def word_list(self) -> list[str]:
        return [line.strip() for line in self.words.splitlines() if line.strip()]


class Segment(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="segments")
    index = models.PositiveIntegerField()
    start = models.FloatField()
    end = models.FloatField()
    text = models.TextField()
    # A stable label of who spoke ("S1", "S2"...), blank when speakers were not identified.
    speaker = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["job", "index"]
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="unique_segment_per_job"),
            models.CheckConstraint(
                condition=Q(end__gte=F("start")), name="segment_end_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"[{self.start:.2f}-{self.end:.2f}] {self.text}"

    @property
    def speaker_name(self) -> str:
        return self.job.speaker_name(self.speaker)


class RevisionAction(models.TextChoices):
    EDIT_TEXT = "edit_text"
    RENAME_SPEAKER = "rename_speaker"
    MERGE_SPEAKERS = "merge_speakers"
    REASSIGN_SPEAKER = "reassign_speaker"
    SPLIT = "split"
    JOIN = "join"
    RESTORE = "restore"
    # The job ran again: the transcript it replaced is kept here.
    RERUN = "rerun"


class Revision(models.Model):
    """One change of a job's transcript: who, when, what, and the whole transcript before and
    after it (segments and speaker names), so that any earlier state can be restored exactly."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="revisions")
    # The job's transcript_version this change made.
    version = models.PositiveIntegerField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=24, choices=RevisionAction.choices)
    summary = models.CharField(max_length=255, blank=True)
    before = models.JSONField()
    after = models.JSONField()

    class Meta:
        ordering = ["job", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["job", "version"], name="unique_revision_version"),
        ]

    def __str__(self) -> str:
        return f"Job {self.job_id} v{self.version} {self.action}"


class Upload(models.Model):
    """A file arriving in chunks through the resumable upload API. Its bytes go to a partial file
    under a server-generated name; once complete it becomes a recording, and the row goes."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="uploads"
    )
    # The client's file name, for display only (sanitised like a multipart upload's).
    name = models.CharField(max_length=255)
    size = models.BigIntegerField()
    received = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(received__gte=0, received__lte=F("size")),
                name="upload_received_within_size",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.received}/{self.size})"

    @property
    def is_complete(self) -> bool:
        return self.received == self.size

    @property
    def path(self) -> Path:
        return partial_upload_path(self.id)


def partial_upload_path(upload_id: uuid.UUID | str) -> Path:
    return Path(settings.PARTIAL_UPLOADS_DIR) / f"{upload_id}.part"
