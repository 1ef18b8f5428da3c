"""Runs one job on this worker: claim it, hand the audio to gpu_engine, store what comes back."""

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from celery.exceptions import Reject, SoftTimeLimitExceeded
from django.conf import settings
from django.core.files import File
from django.db import InterfaceError, OperationalError, close_old_connections

from gpu_engine.device import describe_device, peak_gpu_memory, resolve_device
from gpu_engine.stages import Stage
from gpu_engine.types import EngineConfig, EngineError, JobCancelled, JobOptions
from transcription import notifications, progress, services, storage
from transcription.models import Job, JobLost, JobTelemetry, Recording, StoredCopy

logger = logging.getLogger(__name__)


def engine_config() -> EngineConfig:
    return EngineConfig(
        model_sources=dict(settings.ASR_MODEL_SOURCES),
        punctuation_sources=dict(settings.ASR_PUNCTUATION_SOURCES),
        cache_dir=Path(settings.MODEL_CACHE_DIR),
        device=settings.ASR_DEVICE,
        dtype=settings.ASR_DTYPE,
        max_segment_s=settings.MAX_SEGMENT_S,
        batch_seconds=settings.BATCH_SECONDS,
        max_audio_s=settings.MAX_AUDIO_HOURS * 3600,
        vad_processes=settings.VAD_PROCESSES,
        speaker_model=settings.SPEAKER_MODEL,
    )


class JobTimedOut(EngineError):
    pass


class WorkerStopping(Exception):
    """This worker is shutting down: its running jobs go back to the queue at their next
    segment, for another worker (or this one, restarted), rather than hold up the shutdown."""


# The database went away (restarted, unreachable): nothing the job did wrong, so it goes back to
# the queue rather than fail.
DATABASE_DOWN = (OperationalError, InterfaceError)
DATABASE_RETRY_MAX_S = 30.0
_stopping = threading.Event()


def stop_jobs() -> None:
    """Called when this worker starts shutting down (SIGTERM, SIGINT). Celery's threads pool
    would wait for every running task to end (its executor's shutdown waits), which for a long
    job outlasts any stop timeout (docker's 10 s, systemd's 90 s) and ends in SIGKILL; instead
    each job goes back to the queue at its next segment, and the worker exits at once."""
    _stopping.set()


def job_time_limit(job: Job) -> float:
    audio_s = job.recording.duration_s or settings.MAX_AUDIO_HOURS * 3600
    limit = settings.JOB_TIME_BASE_S + settings.JOB_TIME_PER_AUDIO_S * audio_s
    return min(limit, settings.JOB_TIME_LIMIT_S)


# The stages a job's telemetry times, each until the next stage it reached begins (recognition
# until diarizing, when the job identifies speakers, else until finalizing).
TIMED_STAGES = (Stage.DECODING, Stage.SEGMENTING, Stage.TRANSCRIBING)
_STAGE_ORDER = list(Stage)


class JobReporter:
    """Writes progress at most about once a second per job (and on every stage change), and
    answers whether the user cancelled, reading the database no more often. Also the job's
    clock: past its time limit it stops the job, which is then failed with that reason; and its
    stopwatch: the telemetry stored with the job when it finishes."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.last_write = 0.0
        self.last_cancel_check = 0.0
        self.cancelled = False
        self.deadline: float | None = None
        self.began = time.monotonic()
        # When each stage was first reported: recognition's retries report TRANSCRIBING again.
        self.stage_began: dict[Stage, float] = {}
        self.device = ""
        self.peak_gpu_bytes: Callable[[], int | None] = lambda: None

    @contextmanager
    def measuring(self) -> Iterator[None]:
        """While the job runs: the device it runs on and the GPU memory it peaks at."""
        device = _job_device()
        if device is None:
            yield
            return
        self.device = describe_device(device)
        with peak_gpu_memory(device) as peak:
            self.peak_gpu_bytes = peak
            yield

    def telemetry(self, *, audio_s: float | None = None) -> JobTelemetry:
        """What this attempt measured so far; a stage it ended in counts until now."""
        now = time.monotonic()
        decoding, speech_detection, recognition = (
            self._stage_seconds(stage, now) for stage in TIMED_STAGES
        )
        queued_at = self.job.queued_at or self.job.created_at
        return JobTelemetry(
            queue_wait_s=round((self.job.started_at - queued_at).total_seconds(), 3),
            decoding_s=decoding,
            speech_detection_s=speech_detection,
            recognition_s=recognition,
            speed_x=round(audio_s / (now - self.began), 2) if audio_s else None,
            device=self.device,
            peak_gpu_bytes=self.peak_gpu_bytes(),
        )

    def _stage_seconds(self, stage: Stage, now: float) -> float | None:
        began = self.stage_began.get(stage)
        if began is None:
            return None
        later = _STAGE_ORDER[_STAGE_ORDER.index(stage) + 1 :]
        ended = min((self.stage_began[s] for s in later if s in self.stage_began), default=now)
        return round(ended - began, 3)

    def __call__(self, stage: Stage, percent: float, message: str = "") -> None:
        now = time.monotonic()
        self.stage_began.setdefault(stage, now)
        if self.deadline is None and stage != Stage.DOWNLOADING_MODEL:
            self.deadline = now + job_time_limit(self.job)
        if stage == self.job.stage and now - self.last_write < settings.PROGRESS_MIN_INTERVAL_S:
            return
        self.last_write = now
        self.job.record_progress(stage=stage, progress=percent, message=message)
        progress.publish(self.job)

    def should_cancel(self) -> bool:
        if _stopping.is_set():
            raise WorkerStopping(f"Job {self.job.pk}: its worker is shutting down")
        now = time.monotonic()
        if self.deadline is not None and now > self.deadline:
            minutes = job_time_limit(self.job) / 60
            raise JobTimedOut(
                f"The job took longer than its {minutes:.0f}-minute limit and was stopped."
            )
        if not self.cancelled and now - self.last_cancel_check >= settings.PROGRESS_MIN_INTERVAL_S:
            self.last_cancel_check = now
            self.cancelled = self.job.cancel_was_requested()
        return self.cancelled


def _job_device() -> str | None:
    """The device this worker's jobs run on; None when the setting names none here, which the
    engine then fails the job for, with the reason."""
    try:
        return resolve_device(settings.ASR_DEVICE)
    except EngineError:
        return None


def run_job(job_id: int, *, worker: str) -> None:
    job = Job.objects.select_related("recording").filter(pk=job_id).first()
    if job is None:
        logger.info("Job %s no longer exists; nothing to do", job_id)
        return
    if _stopping.is_set():
        # A message that reached this worker as it began to stop: back to the queue, for
        # another worker or this one restarted (a stopping worker still consumes for a moment).
        raise Reject(f"Job {job_id}: this worker is shutting down", requeue=True)
    if not job.claim(worker=worker):
        logger.info("Job %s is %s or held by a live worker; skipping", job_id, job.status)
        return
    progress.queue_moved(job)
    try:
        _run_claimed(job)
    except JobLost as lost:
        logger.warning("%s; this attempt stops without writing to it", lost)
    except WorkerStopping:
        _hand_back(job, why="its worker is shutting down")
    except DATABASE_DOWN:
        logger.warning("Job %s lost the database", job.pk, exc_info=True)
        _hand_back(job, why="its worker lost the database")


def _run_claimed(job: Job) -> None:
    """Ends the job succeeded, failed (with its reason) or cancelled; only losing the job, the
    database or the worker itself escapes, for run_job to deal with."""
    reporter = JobReporter(job)
    try:
        with reporter.measuring():
            if job.attempts > settings.JOB_MAX_ATTEMPTS:
                job.mark_failed(
                    reason=f"The worker stopped {job.attempts - 1} times while processing this "
                    "job (crash or out of memory); giving up.",
                    telemetry=reporter.telemetry(),
                )
            else:
                progress.publish(job)
                _transcribe(job, reporter)
    except (JobLost, WorkerStopping, *DATABASE_DOWN):
        raise
    except Exception as error:
        logger.exception("Job %s failed unexpectedly", job.pk)
        job.mark_failed(
            reason=f"Unexpected error while transcribing: {error}", telemetry=reporter.telemetry()
        )
    logger.info("Job %s %s on attempt %s", job.pk, job.status, job.attempts)
    progress.publish(job)
    notifications.email_when_long(job)


def _hand_back(job: Job, *, why: str) -> None:
    """Requeue the job this worker holds but cannot finish, waiting for the database if it is
    down: left running under a live worker, the janitor (which spares workers that answer a
    ping) would never requeue it. A worker that stops meanwhile leaves it to its restart
    (jobs_requeue_orphaned) or, if it never comes back, to the janitor."""
    wait_s = 1.0
    while True:
        close_old_connections()  # a connection that failed is replaced by a fresh one
        try:
            services.job_requeue(job=job, why=why)
            return
        except DATABASE_DOWN:
            logger.warning("Job %s: the database is still down; retrying in %.0f s", job.pk, wait_s)
        if _stopping.wait(wait_s):
            return
        wait_s = min(wait_s * 2, DATABASE_RETRY_MAX_S)


def _transcribe(job: Job, reporter: JobReporter) -> None:
    from gpu_engine.audio import make_playback_copy
    from gpu_engine.pipeline import transcribe_file

    recording = job.recording
    options = JobOptions(
        model=job.model,
        language=job.language,
        hotwords=tuple(job.hotword_list),
        itn=job.itn,
        speakers=job.identify_speakers,
        num_speakers=job.num_speakers,
        min_speakers=job.min_speakers,
        max_speakers=job.max_speakers,
    )
    try:
        with storage.local_copy(recording.file) as original:
            _ensure_playback_copy(recording, original, make_playback_copy)
            result = transcribe_file(
                original,
                options,
                engine_config(),
                on_progress=reporter,
                should_cancel=reporter.should_cancel,
            )
        reporter(Stage.FINALIZING, 100.0)
        recording.duration_s = result.duration_s
        recording.save(update_fields=["duration_s"])
        services.job_store_transcript(
            job=job,
            language=result.language,
            text=result.text,
            segments=[(s.start, s.end, s.text, s.speaker) for s in result.segments],
            telemetry=reporter.telemetry(audio_s=result.duration_s),
        )
    except JobCancelled:
        job.mark_cancelled(telemetry=reporter.telemetry())
    except EngineError as error:
        job.mark_failed(reason=str(error), telemetry=reporter.telemetry())
    except SoftTimeLimitExceeded:
        job.mark_failed(
            reason="The job took longer than the time limit and was stopped.",
            telemetry=reporter.telemetry(),
        )


def _ensure_playback_copy(recording: Recording, original: Path, make_playback_copy) -> None:
    """Made in a temporary file here, then saved through the storage (local disk or bucket)."""
    if recording.playback_file:
        return
    try:
        with storage.scratch_dir() as scratch:
            copy = scratch / StoredCopy.PLAYBACK
            if make_playback_copy(original, copy):
                with copy.open("rb") as content:
                    recording.playback_file.save(copy.name, File(content), save=False)
                recording.save(update_fields=["playback_file"])
    except Exception:
        # The player falls back to the original; recognition does not depend on this copy.
        logger.warning("No playback copy for recording %s", recording.pk, exc_info=True)
