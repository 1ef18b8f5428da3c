"""A malformed-upload corpus, made here from real audio of every accepted format by seeded
mutators, posted through the API and transcribed by a real worker: no answer is a 5xx, every
rejection has a reason, every accepted file ends succeeded or failed with a reason, the worker
lives on with bounded memory, and no file is left behind."""

import random
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pytest

from tests import bad_audio
from tests.audio_files import FORMATS, speech, write_audio
from transcription.models import Job, Recording

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SEED = 14
CASES = 520
FILES_PER_REQUEST = 40
SEED_SECONDS = 3
JOBS_TIMEOUT_S = 300
# The worker process's own growth allowed once its models are loaded: the audio of a few jobs
# at a time (3 s each here), the allocator's slack, never what a header claims.
WORKER_GROWTH_LIMIT_MB = 200


def seed_files(folder: Path) -> dict[str, bytes]:
    """SEED_SECONDS of real speech in each accepted format (extension -> bytes)."""
    from gpu_engine.audio import decode_audio

    samples = decode_audio(speech("en_librispeech_1995-1837-0001.wav"), max_seconds=60)
    samples = samples[: SEED_SECONDS * 16000]
    seeds = {}
    for extension, (container, codec, rate) in FORMATS.items():
        path = write_audio(
            folder / f"seed.{extension}", samples, rate=rate, container=container, codec=codec
        )
        seeds[extension] = path.read_bytes()
    return seeds


def corpus(seeds: dict[str, bytes]) -> list[tuple[str, bytes]]:
    """(file name, content): the intact seeds first, then mutants; the same list on every run."""
    rng = random.Random(SEED)
    pcm = bad_audio.pcm_of(seeds["wav"])
    cases = [(f"intact.{extension}", data) for extension, data in seeds.items()]
    while len(cases) < CASES:
        extension = rng.choice(sorted(seeds))
        if extension == "wav" and rng.random() < 0.4:
            kind, data = "header", bad_audio.wav_header_cases(pcm, rng)
        else:
            mutate = rng.choice(bad_audio.MUTATORS)
            kind, data = mutate.__name__, mutate(seeds[extension], rng)
        cases.append((f"{len(cases):03d}-{kind}.{extension}", data))
    return cases


def post(api, folder: Path, cases: list[tuple[str, bytes]], model: str) -> dict:
    handles = [bad_audio.write(folder / name, data).open("rb") for name, data in cases]
    try:
        response = api.post(
            "/api/recordings/", {"files": handles, "model": model}, format="multipart"
        )
    finally:
        for handle in handles:
            handle.close()
    assert response.status_code in (201, 400), response.status_code
    body = response.json()
    answered = [j["recording"]["name"] for j in body["jobs"]] + [
        r["file"] for r in body["rejected"]
    ]
    assert sorted(answered) == sorted(name for name, _ in cases)
    assert all(r["reason"] for r in body["rejected"])
    return body


class PeakRss(threading.Thread):
    """Samples a process's resident memory until stopped; `peak_mb` is the highest seen."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak_mb = 0.0
        self.running = True

    def run(self) -> None:
        while self.running:
            self.peak_mb = max(self.peak_mb, self.process.memory_info().rss / 2**20)
            time.sleep(0.1)


def wait_for_jobs(job_ids: list[int]) -> list[Job]:
    deadline = time.monotonic() + JOBS_TIMEOUT_S
    while Job.objects.filter(pk__in=job_ids, status__in=["queued", "running"]).exists():
        assert time.monotonic() < deadline, "jobs still running"
        time.sleep(0.5)
    return list(Job.objects.filter(pk__in=job_ids))


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


def decode_folders() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("voxa-decode-*"))


def test_malformed_uploads_never_fail_the_server_or_the_worker(
    celery_worker, alice_api, tiny_model_enabled, settings, tmp_path, capsys
):
    from portal.celery import app

    settings.FILE_UPLOAD_TEMP_DIR = tmp_path / "uploads"
    settings.FILE_UPLOAD_TEMP_DIR.mkdir()
    sent = tmp_path / "sent"
    sent.mkdir()
    media = Path(settings.MEDIA_ROOT)
    media_before, decode_before = files_under(media), decode_folders()
    cases = corpus(seed_files(tmp_path))
    intact, mutants = cases[: len(FORMATS)], cases[len(FORMATS) :]
    started = time.monotonic()

    # The intact seeds first: every format is accepted and transcribed, and the worker has
    # loaded its models before its memory is watched.
    body = post(alice_api, sent, intact, tiny_model_enabled)
    assert body["rejected"] == []
    first_jobs = wait_for_jobs([j["id"] for j in body["jobs"]])
    assert {job.status for job in first_jobs} == {"succeeded"}
    worker_pid = app.control.inspect(destination=[celery_worker]).stats()[celery_worker]["pid"]
    baseline_mb = psutil.Process(worker_pid).memory_info().rss / 2**20
    watch = PeakRss(worker_pid)
    watch.start()

    job_ids, rejected = [], []
    for first in range(0, len(mutants), FILES_PER_REQUEST):
        body = post(alice_api, sent, mutants[first : first + FILES_PER_REQUEST], tiny_model_enabled)
        job_ids += [j["id"] for j in body["jobs"]]
        rejected += body["rejected"]
    probed = time.monotonic()
    jobs = wait_for_jobs(job_ids)
    watch.running = False
    watch.join()

    failed = [job for job in jobs if job.status == "failed"]
    assert {job.status for job in jobs} <= {"succeeded", "failed"}
    assert all(job.error for job in failed)
    assert app.control.ping(destination=[celery_worker], timeout=5)
    assert psutil.Process(worker_pid).is_running()
    assert watch.peak_mb - baseline_mb < WORKER_GROWTH_LIMIT_MB
    recordings = Recording.objects.filter(jobs__in=[*job_ids, *(j.pk for j in first_jobs)])
    stored = {Path(f.path) for r in recordings for f in (r.file, r.playback_file) if f}
    assert files_under(media) - media_before == stored
    assert files_under(settings.FILE_UPLOAD_TEMP_DIR) == set()
    assert decode_folders() - decode_before == set()
    with capsys.disabled():
        reasons = sorted({r["reason"] for r in rejected})
        print(
            f"\n[upload fuzz] {len(cases)} files: {len(rejected)} rejected at upload "
            f"({len(reasons)} distinct reasons), {len(jobs)} accepted: "
            f"{len(jobs) - len(failed)} transcribed, {len(failed)} failed with a reason; "
            f"probing took {probed - started:.0f} s, "
            f"all done in {time.monotonic() - started:.0f} s; "
            f"worker RSS {baseline_mb:.0f} MB after the models loaded, peak {watch.peak_mb:.0f} MB"
        )
        for reason in reasons:
            print(f"  rejected: {reason}")
        for error in sorted({job.error for job in failed}):
            print(f"  failed: {error}")
