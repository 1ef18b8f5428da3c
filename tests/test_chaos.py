"""Chaos with real workers: killed at random points, shut down, stopped and taken over, their
Redis and PostgreSQL restarted mid-job. Every job still succeeds, exactly once; a negative control
without the claim fence shows that the checks would see it otherwise.

"Exactly once" is read from the database itself: a trigger records each committed transition to
succeeded, and each write to a job that had already succeeded. A kill between a write and its
commit leaves no trace, so the record is exact."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest
from celery import Celery
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.db import connection

from operations import supervision
from tests.audio_files import convert, speech
from tests.conftest import (
    REPO,
    TINY_MODEL,
    _start,
    start_worker,
    stop_process,
    wait_for_job_end,
    wait_until,
)
from tests.factories import JobFactory, RecordingFactory
from tests.private_services import private_postgres, private_redis
from transcription import broker
from transcription.models import ACTIVE_STATUSES, Job, JobStage, JobStatus

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SEED = 14
JOBS = 20
KILLS = 3
LONG_S = 4 * 44.4  # a job long enough to be caught mid-run on purpose
SHORT_S = 2 * 8.7

AUDIT_SQL = """
CREATE TABLE chaos_job_events (job_id bigint NOT NULL, event text NOT NULL);
CREATE FUNCTION chaos_job_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'succeeded' THEN
        INSERT INTO chaos_job_events VALUES (NEW.id, 'written after success');
    ELSIF NEW.status = 'succeeded' THEN
        INSERT INTO chaos_job_events VALUES (NEW.id, 'succeeded');
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER chaos_job_event AFTER UPDATE ON transcription_job
    FOR EACH ROW EXECUTE FUNCTION chaos_job_event();
"""
DROP_AUDIT_SQL = """
DROP TRIGGER chaos_job_event ON transcription_job;
DROP FUNCTION chaos_job_event;
DROP TABLE chaos_job_events;
"""
EVENTS_SQL = "SELECT job_id, event FROM chaos_job_events ORDER BY job_id"


@pytest.fixture
def audit():
    """The job events the trigger recorded: {job id: [event, ...]}."""
    with connection.cursor() as cursor:
        cursor.execute(AUDIT_SQL)

    def events() -> dict[int, list[str]]:
        with connection.cursor() as cursor:
            cursor.execute(EVENTS_SQL)
            return _grouped(cursor.fetchall())

    yield events
    with connection.cursor() as cursor:
        cursor.execute(DROP_AUDIT_SQL)


def _grouped(rows) -> dict[int, list[str]]:
    grouped: dict[int, list[str]] = {}
    for job_id, event in rows:
        grouped.setdefault(job_id, []).append(event)
    return grouped


def problems_with(job: Job, events: list[str]) -> list[str]:
    """What shows that `job` did not succeed exactly once, whole."""
    problems = []
    if job.status != JobStatus.SUCCEEDED:
        problems.append(f"job {job.pk} is {job.status}: {job.error}")
    if job.attempts > django_settings.JOB_MAX_ATTEMPTS:
        problems.append(f"job {job.pk} took {job.attempts} attempts")
    if events != ["succeeded"]:
        problems.append(f"job {job.pk} recorded {events}, not one success")
    segments = list(job.segments.values_list("index", "start", "end"))
    if not segments or [index for index, *_ in segments] != list(range(len(segments))):
        problems.append(f"job {job.pk} has segments numbered {[s[0] for s in segments]}")
    spans = [(start, end) for _, start, end in segments]
    if spans != sorted(set(spans)):
        problems.append(f"job {job.pk} has duplicated or unordered segments {spans}")
    return problems


def all_problems(jobs: list[Job], events: dict[int, list[str]]) -> list[str]:
    for job in jobs:
        job.refresh_from_db()
    return [problem for job in jobs for problem in problems_with(job, events.get(job.pk, []))]


@pytest.fixture(scope="module")
def long_audio(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("chaos")
    return convert(speech("en_two_cities_44s.wav"), folder / "long.flac", repeat=4)


@pytest.fixture(scope="module")
def short_audio(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("chaos")
    return convert(speech("en_librispeech_1995-1837-0001.wav"), folder / "short.flac", repeat=2)


def job_on(owner, audio: Path, duration_s: float) -> Job:
    recording = RecordingFactory(
        owner=owner, file=ContentFile(audio.read_bytes(), name="original"), duration_s=duration_s
    )
    return JobFactory(recording=recording, model=TINY_MODEL, language="en")


def start_beat(env: dict[str, str], queue: str, folder: Path) -> subprocess.Popen:
    """Celery beat sending the janitor every second."""
    command = [sys.executable, "-m", "celery", "-A", "portal", "beat", "--loglevel=INFO",
               "--schedule", str(folder / "schedule")]  # fmt: skip
    # A worker killed after taking a message, before claiming its job, leaves that message in
    # `unacked`: the janitor sends the job again 5 s on.
    env = {**env, "CELERY_QUEUE": queue, "JOB_JANITOR_INTERVAL_S": "1", "JOB_CLAIM_GRACE_S": "5"}
    return _start(command, env, folder / "beat.log")


def transcribing(job: Job) -> bool:
    return Job.objects.filter(pk=job.pk, stage=JobStage.TRANSCRIBING).exists()


def test_twenty_jobs_each_succeed_once_through_random_kills(
    process_env, alice, short_audio, job_queue, audit, settings, tmp_path
):
    # Any job may be caught by every kill: 20/20 can succeed only if that many attempts are
    # allowed (the seed fixes when the kills come, not which jobs they catch).
    settings.JOB_MAX_ATTEMPTS = KILLS + 1
    process_env = {**process_env, "JOB_MAX_ATTEMPTS": str(KILLS + 1)}
    rng = random.Random(SEED)
    jobs = [job_on(alice, short_audio, SHORT_S) for _ in range(JOBS)]
    for job in jobs:
        broker.enqueue(job)
    name = f"chaos-{os.getpid()}@localhost"
    ids = [job.pk for job in jobs]
    running = Job.objects.filter(pk__in=ids, status=JobStatus.RUNNING)
    # The janitor too: a worker killed just as Redis handed it a message (BRPOP answered, not
    # yet recorded as unacknowledged) takes that message with it; only the janitor sends it again.
    beat = start_beat(process_env, job_queue, tmp_path)
    try:
        for kill in range(KILLS):
            worker = start_worker(process_env, name, job_queue, tmp_path / f"run{kill}.log")
            wait_until(lambda: running.filter(stage=JobStage.TRANSCRIBING).exists(), 120)
            time.sleep(rng.uniform(0, 3))  # somewhere in the jobs it holds
            worker.kill()  # SIGKILL: no cleanup; its tasks stay unacknowledged in the broker
            worker.wait()
        worker = start_worker(process_env, name, job_queue, tmp_path / "last.log")
        active = Job.objects.filter(pk__in=ids, status__in=ACTIVE_STATUSES)
        try:
            wait_until(lambda: not active.exists(), timeout_s=180)
        finally:
            stop_process(worker)
    finally:
        stop_process(beat)

    assert all_problems(jobs, audit()) == []
    assert sum(job.attempts for job in jobs) > JOBS  # the kills did catch jobs mid-run


def test_the_checks_see_a_job_run_twice_when_the_claim_fence_is_removed(
    process_env, alice, long_audio, job_queue, audit, settings, tmp_path
):
    """Negative control: a worker taken for dead while it was only stopped (SIGSTOP) comes back
    after another took its job over. Without the fence it writes on, and the checks say so."""
    settings.JOB_STALE_AFTER_S, settings.WORKER_PING_TIMEOUT_S = 1, 1
    job = job_on(alice, long_audio, LONG_S)
    unfenced = {"module": "tests.unfenced_worker"}
    first = start_worker(process_env, "unfenced-1@localhost", job_queue, tmp_path / "1.log",
                         **unfenced)  # fmt: skip
    second = None
    try:
        broker.enqueue(job)
        wait_until(lambda: transcribing(job), timeout_s=120)
        first.send_signal(signal.SIGSTOP)
        second = start_worker(process_env, "unfenced-2@localhost", job_queue, tmp_path / "2.log",
                              **unfenced)  # fmt: skip
        assert [taken.pk for taken in supervision.jobs_requeue_stalled()] == [job.pk]
        wait_until(lambda: audit().get(job.pk), timeout_s=120)  # the second worker's success
        first.send_signal(signal.SIGCONT)
        wait_until(lambda: len(audit()[job.pk]) > 1, timeout_s=120)
    finally:
        first.send_signal(signal.SIGCONT)
        for worker in (first, second):
            if worker is not None:
                stop_process(worker)

    problems = all_problems([job], audit())
    assert any("not one success" in problem for problem in problems), problems


def test_sigterm_mid_job_requeues_it_and_it_completes_after_a_restart(
    process_env, alice, long_audio, job_queue, audit, tmp_path
):
    job = job_on(alice, long_audio, LONG_S)
    name = f"sigterm-{job.pk}@localhost"
    worker = start_worker(process_env, name, job_queue, tmp_path / "first.log")
    broker.enqueue(job)
    wait_until(lambda: transcribing(job), timeout_s=120)
    worker.terminate()  # a warm shutdown, as systemd or docker stop sends
    worker.wait(timeout=30)  # it does not wait for the job to end
    job.refresh_from_db()
    assert (job.status, job.worker, job.attempts) == (JobStatus.QUEUED, "", 1)

    restarted = start_worker(process_env, name, job_queue, tmp_path / "second.log")
    wait_for_job_end(job, restarted, timeout_s=120)

    assert all_problems([job], audit()) == []
    assert job.attempts == 2


def test_a_job_completes_once_through_a_redis_restart_and_queued_work_is_sent_again(
    process_env, alice, long_audio, short_audio, audit, settings, tmp_path
):
    settings.WORKER_SLOTS = 1  # the second job waits in the broker, whose restart loses it
    queue = "voxa-chaos-redis"
    running, waiting = job_on(alice, long_audio, LONG_S), job_on(alice, short_audio, SHORT_S)
    with private_redis() as redis_server:
        env = {**process_env, "REDIS_URL": redis_server.url}
        worker = start_worker(env, f"redis-{running.pk}@localhost", queue, tmp_path / "w.log")
        try:
            sender = Celery(broker=redis_server.url, set_as_current=False)
            for job in (running, waiting):
                sender.send_task(broker.TRANSCRIBE_TASK, (job.pk,), queue=queue)
            sender.close()
            wait_until(lambda: transcribing(running), timeout_s=120)
            redis_server.stop()
            time.sleep(2)  # progress cannot be sent meanwhile, nor the broker reached
            redis_server.start()
            wait_until(lambda: not Job.objects.get(pk=running.pk).is_active, timeout_s=120)
            assert Job.objects.get(pk=waiting.pk).status == JobStatus.QUEUED  # its message lost
            wait_for_job_end(waiting, start_beat(env, queue, tmp_path), timeout_s=120)
        finally:
            stop_process(worker)

    assert all_problems([running, waiting], audit()) == []
    assert running.attempts == 1


CREATE_JOB = """
import os
from django.core.files.base import ContentFile
from tests.factories import JobFactory
from transcription import broker
audio = open(os.environ["CHAOS_AUDIO"], "rb").read()
job = JobFactory(recording__file=ContentFile(audio, name="original"), model=os.environ["MODEL"],
                 language="en", recording__duration_s=float(os.environ["DURATION_S"]))
broker.enqueue(job)
print(job.pk)
"""


def job_row(url: str, job_id: int) -> dict | None:
    """The job as a private PostgreSQL holds it; None while that server is down."""
    try:
        with psycopg2.connect(url) as db, db.cursor() as cursor:
            cursor.execute(
                "SELECT status, stage, attempts, error, (SELECT array_agg(index ORDER BY index) "
                "FROM transcription_segment WHERE job_id = %s) FROM transcription_job "
                "WHERE id = %s",
                [job_id, job_id],
            )
            status, stage, attempts, error, indices = cursor.fetchone()
    except psycopg2.OperationalError:
        return None
    return {"status": status, "stage": stage, "attempts": attempts, "error": error,
            "indices": indices or []}  # fmt: skip


def test_a_job_completes_through_a_postgresql_restart(process_env, long_audio, job_queue, tmp_path):
    with private_postgres() as postgres:
        url = postgres.create_database("voxa")
        env = {**process_env, "DATABASE_URL": url, "CELERY_QUEUE": job_queue}
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "-v0"], env=env, cwd=REPO, check=True)
        created = subprocess.run(
            [*manage, "shell", "-c", CREATE_JOB],
            env={**env, "CHAOS_AUDIO": str(long_audio), "MODEL": TINY_MODEL,
                 "DURATION_S": str(LONG_S)},
            cwd=REPO, check=True, capture_output=True, text=True,
        )  # fmt: skip
        job_id = int(created.stdout.split()[-1])
        worker = start_worker(env, f"pg-{job_id}@localhost", job_queue, tmp_path / "w.log")
        try:
            wait_until(lambda: (job_row(url, job_id) or {}).get("stage") == "transcribing", 120)
            postgres.restart()
            wait_until(
                lambda: (job_row(url, job_id) or {}).get("status") not in (None, *ACTIVE_STATUSES),
                120,
            )
        finally:
            stop_process(worker)
        job = job_row(url, job_id)

    assert job["status"] == JobStatus.SUCCEEDED, job["error"]
    assert job["attempts"] == 2  # handed back when the database returned, then run again
    assert job["indices"] == list(range(len(job["indices"]))) != []
