"""The whole path through the API with a real Celery worker process and real engines."""

import time
from pathlib import Path

import pytest
import srt

from tests.audio_files import speech
from tests.scoring import corpus_cer, corpus_wer, references
from tests.segments import assert_segments_follow_the_plan

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

JOB_TIMEOUT_S = 600


def upload(api, paths: list[Path], **fields) -> list[dict]:
    handles = [p.open("rb") for p in paths]
    try:
        response = api.post("/api/recordings/", {"files": handles, **fields}, format="multipart")
    finally:
        for handle in handles:
            handle.close()
    assert response.status_code == 201, response.json()
    return response.json()["jobs"]


def wait_for(api, job_ids: list[int]) -> dict[int, dict]:
    deadline = time.monotonic() + JOB_TIMEOUT_S
    pending, done = set(job_ids), {}
    while pending:
        for job_id in sorted(pending):
            body = api.get(f"/api/jobs/{job_id}/").json()
            if body["status"] not in ("queued", "running"):
                done[job_id] = body
                pending.discard(job_id)
        assert time.monotonic() < deadline, f"jobs still running: {pending}"
        time.sleep(0.5)
    return done


def assert_segments_sane(job: dict) -> None:
    duration = job["recording"]["duration_s"]
    segments = job["transcript"]["segments"]
    assert segments, job
    starts = [s["start"] for s in segments]
    assert starts == sorted(starts)
    for s in segments:
        assert 0 <= s["start"] <= s["end"] <= duration + 0.05, (s, duration)


def test_whisper_transcribes_the_shared_recordings(celery_worker, alice_api, capsys):
    refs = references()
    started = time.monotonic()
    jobs = {}
    for language in ("en", "zh"):
        clips = [r for r in refs if r.language == language]
        for clip, job in zip(clips, upload(alice_api, [r.path for r in clips], language=language),
                             strict=True):  # fmt: skip
            jobs[job["id"]] = clip
    results = wait_for(alice_api, list(jobs))
    wall = time.monotonic() - started

    for job_id, job in results.items():
        assert job["status"] == "succeeded", (jobs[job_id].file, job["error"])
        assert_segments_sane(job)
        cues = list(
            srt.parse(alice_api.get(f"/api/jobs/{job_id}/export/?format=srt").content.decode())
        )
        assert "".join("".join(c.content.split()) for c in cues) == "".join(
            job["transcript"]["text"].split()
        )

    def pairs(language: str) -> list[tuple[str, str]]:
        return [(jobs[i].text, results[i]["transcript"]["text"])
                for i in jobs if jobs[i].language == language]  # fmt: skip

    wer, cer = corpus_wer(pairs("en")), corpus_cer(pairs("zh"))
    audio_s = sum(job["recording"]["duration_s"] for job in results.values())
    with capsys.disabled():
        print(
            f"\n[e2e whisper-base] {len(results)} jobs, {audio_s:.1f} s of audio in {wall:.1f} s "
            f"(upload to last result, model load included): real-time factor {wall / audio_s:.2f}; "
            f"English WER {wer:.3f}, Mandarin CER {cer:.3f}"
        )
    assert wer <= 0.15
    assert cer <= 0.25


def test_mandarin_comes_out_simplified_unless_traditional_is_chosen(celery_worker, alice_api):
    clip = speech("zh_funasr_asr_example.wav")
    simplified = upload(alice_api, [clip], language="zh")[0]["id"]
    traditional = upload(alice_api, [clip], language="zh-TW")[0]["id"]

    results = wait_for(alice_api, [simplified, traditional])

    simplified_text = results[simplified]["transcript"]["text"]
    traditional_text = results[traditional]["transcript"]["text"]
    assert "体验" in simplified_text or "语音" in simplified_text, simplified_text
    assert "體驗" in traditional_text or "語音" in traditional_text, traditional_text


def test_funasr_backend_follows_the_speech_detector(
    celery_worker, alice_api, tiny_model_enabled, settings
):
    from gpu_engine.audio import decode_audio
    from gpu_engine.pipeline import MIN_SEGMENT_S
    from gpu_engine.vad import detect_speech, plan_segments

    path = speech("long_pauses_70s.wav")
    job_id = upload(alice_api, [path], model=tiny_model_enabled)[0]["id"]
    job = wait_for(alice_api, [job_id])[job_id]

    assert job["status"] == "succeeded", job["error"]
    assert job["model"] == tiny_model_enabled
    assert_segments_sane(job)
    spans = detect_speech(decode_audio(path, max_seconds=3600))
    assert len(spans) == 12  # FSMN-VAD with max_end_silence_time=800 on this file
    expected = plan_segments(
        spans, max_segment_s=settings.MAX_SEGMENT_S, min_segment_s=MIN_SEGMENT_S
    )
    segments = [(s["start"], s["end"]) for s in job["transcript"]["segments"]]
    assert_segments_follow_the_plan(segments, expected)
    assert all(s["text"] for s in job["transcript"]["segments"])


def test_unavailable_model_fails_the_job_and_the_worker_goes_on(
    celery_worker, alice_api, tiny_model_enabled
):
    from tests.conftest import BROKEN_MODEL

    clip = speech("en_speechrecognition_english.wav")
    broken = upload(alice_api, [clip], model=BROKEN_MODEL)[0]["id"]
    healthy = upload(alice_api, [clip], language="en")[0]["id"]

    results = wait_for(alice_api, [broken, healthy])

    assert results[broken]["status"] == "failed"
    assert BROKEN_MODEL in results[broken]["error"]
    assert results[healthy]["status"] == "succeeded"


def test_job_identifying_speakers_ends_with_labelled_lines_and_unnamed_speakers(
    celery_worker, alice, tiny_model_enabled, tmp_path
):
    from django.core.files.base import ContentFile

    from gpu_engine.audio import SAMPLE_RATE
    from tests.audio_files import write_audio
    from tests.conftest import wait_until
    from tests.factories import JobFactory, RecordingFactory
    from tests.speaker_recordings import build
    from transcription import broker
    from transcription.models import Job, JobStatus

    readers = build("two-alternating")
    path = write_audio(
        tmp_path / "two.wav", readers.audio, rate=SAMPLE_RATE, container="wav", codec="pcm_s16le"
    )
    recording = RecordingFactory(
        owner=alice, file=ContentFile(path.read_bytes(), name="original"), duration_s=None
    )
    job = JobFactory(
        recording=recording,
        model=tiny_model_enabled,
        language="zh",
        identify_speakers=True,
        num_speakers=2,
    )
    broker.enqueue(job)

    wait_until(lambda: not Job.objects.get(pk=job.pk).is_active, JOB_TIMEOUT_S)

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.speaker_names == {"S1": "", "S2": ""}
    assert job.recognition_s is not None
    labels: dict[str, set[str]] = {}
    for segment in job.segments.all():
        middle = (segment.start + segment.end) / 2
        for start, end, reader in readers.reference:
            if start <= middle <= end:
                labels.setdefault(reader, set()).add(segment.speaker)
    # Every line of a reader under that reader's one label, S1 the one who speaks first.
    assert labels == {"librispeech-1995": {"S1"}, "librispeech-1089": {"S2"}}
