"""Uploading through the API: every format accepted, every bad file rejected by name, nothing
left behind."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.audio_files import FORMATS, convert, speech
from transcription.models import Job, JobStatus, Recording

CLIP = speech("en_librispeech_1995-1837-0001.wav")

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def isolated_storage(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FILE_UPLOAD_TEMP_DIR = tmp_path / "uploads"
    settings.FILE_UPLOAD_TEMP_DIR.mkdir()
    return tmp_path


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def upload(client, *files: Path, **fields):
    handles = [f.open("rb") for f in files]
    try:
        return client.post("/api/recordings/", {"files": handles, **fields}, format="multipart")
    finally:
        for handle in handles:
            handle.close()


@pytest.mark.parametrize("extension", sorted(FORMATS))
def test_each_supported_format_is_accepted(alice_api, tmp_path, extension):
    audio = convert(CLIP, tmp_path / f"clip.{extension}")

    response = upload(alice_api, audio, language="en")

    assert response.status_code == 201, response.json()
    [job] = response.json()["jobs"]
    assert job["status"] == "queued"
    assert job["language"] == "en"
    assert job["recording"]["name"] == f"clip.{extension}"
    assert job["recording"]["duration_s"] == pytest.approx(8.73, abs=0.1)
    recording = Recording.objects.get(pk=job["recording"]["id"])
    assert Path(recording.file.path).read_bytes() == audio.read_bytes()


def test_stereo_upload_is_accepted_and_described(alice_api, tmp_path):
    stereo = convert(CLIP, tmp_path / "s.wav", channels=2)

    response = upload(alice_api, stereo)

    assert response.status_code == 201
    assert response.json()["jobs"][0]["recording"]["channels"] == 2


def test_job_options_are_stored(alice_api, tmp_path):
    response = upload(alice_api, CLIP, language="zh", hotwords="达摩院\n\n  FunASR  ", itn="false")

    job = Job.objects.get(pk=response.json()["jobs"][0]["id"])
    assert (job.language, job.hotword_list, job.itn, job.model) == (
        "zh",
        ["达摩院", "FunASR"],
        False,
        "whisper-base",
    )


def make_bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    text = tmp_path / "notes.wav"
    text.write_text("This is a text file pretending to be audio.\n" * 50)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    mp3 = convert(CLIP, tmp_path / "full.mp3")
    truncated = tmp_path / "truncated.mp3"
    truncated.write_bytes(mp3.read_bytes()[:300])
    return {
        "text renamed .wav": (text, "not a readable audio or video file"),
        "empty file": (empty, "empty"),
        "truncated mp3": (truncated, "not a readable audio or video file"),
    }


@pytest.mark.parametrize("case", ["text renamed .wav", "empty file", "truncated mp3"])
def test_bad_upload_is_rejected_with_its_reason(alice_api, tmp_path, isolated_storage, case):
    bad, reason = make_bad_files(tmp_path)[case]

    response = upload(alice_api, bad)

    assert response.status_code == 400
    body = response.json()
    assert body["jobs"] == []
    assert body["rejected"][0]["file"] == bad.name
    assert reason in body["rejected"][0]["reason"]
    assert bad.name in body["detail"]
    assert not Job.objects.exists()
    assert not Recording.objects.exists()
    assert stored_files(isolated_storage / "media") == []
    assert stored_files(isolated_storage / "uploads") == []


def test_oversized_upload_is_rejected_while_streaming(
    alice_api, settings, tmp_path, isolated_storage
):
    settings.MAX_UPLOAD_MB = 1
    big = convert(CLIP, tmp_path / "big.wav", repeat=5)  # ~1.4 MB
    assert big.stat().st_size > 1024 * 1024

    response = upload(alice_api, big)

    assert response.status_code == 400
    assert response.json()["rejected"] == [
        {"file": "big.wav", "reason": "the file is larger than the 1 MB limit"}
    ]
    assert not Job.objects.exists()
    assert stored_files(isolated_storage / "media") == []
    assert stored_files(isolated_storage / "uploads") == []


def test_audio_longer_than_the_limit_is_rejected(alice_api, settings):
    settings.MAX_AUDIO_HOURS = 5 / 3600

    response = upload(alice_api, CLIP)

    assert response.status_code == 400
    assert "longer than" in response.json()["rejected"][0]["reason"]


def test_mixed_upload_accepts_the_good_and_names_the_bad(alice_api, tmp_path):
    bad, _ = make_bad_files(tmp_path)["text renamed .wav"]

    response = upload(alice_api, CLIP, bad)

    assert response.status_code == 201
    body = response.json()
    assert [j["recording"]["name"] for j in body["jobs"]] == [CLIP.name]
    assert [r["file"] for r in body["rejected"]] == ["notes.wav"]
    assert Job.objects.count() == 1


def test_upload_without_files_is_a_clear_error(alice_api):
    response = alice_api.post("/api/recordings/", {"language": "en"}, format="multipart")

    assert response.status_code == 400
    assert "files" in response.json()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("language", "klingon"),
        ("model", "not-enabled"),
        ("hotwords", "https://example.com/words.txt"),
        ("hotwords", "/etc/passwd"),
    ],
)
def test_invalid_options_are_rejected(alice_api, field, value):
    response = upload(alice_api, CLIP, **{field: value})

    assert response.status_code == 400
    assert field in response.json()
    assert not Job.objects.exists()


def test_a_language_the_chosen_model_cannot_be_told_is_rejected(alice_api, settings):
    settings.ASR_ENABLED_MODELS = ["whisper-base", "fun-asr-nano"]

    refused = upload(alice_api, CLIP, model="fun-asr-nano", language="fr")
    accepted = upload(alice_api, CLIP, model="fun-asr-nano", language="zh-TW")

    assert refused.status_code == 400
    assert refused.json()["language"] == [
        "fun-asr-nano cannot transcribe French: choose Chinese (Mandarin, simplified), "
        "Chinese (Mandarin, traditional), English, Japanese, Korean, or Detect automatically."
    ]
    assert accepted.status_code == 201
    assert upload(alice_api, CLIP, model="whisper-base", language="fr").status_code == 201


def test_unsafe_file_names_are_sanitised(alice_api):
    upload_file = SimpleUploadedFile("../../etc/\u202eevil\x00.wav", CLIP.read_bytes())

    response = alice_api.post("/api/recordings/", {"files": [upload_file]}, format="multipart")

    assert response.status_code == 201
    recording = Recording.objects.get()
    assert "/" not in recording.name and "\u202e" not in recording.name
    assert str(recording.uuid) in recording.file.name


def test_anonymous_upload_is_refused(client):
    response = client.post("/api/recordings/", {})

    assert response.status_code in (401, 403)
    assert not Job.objects.exists()


def test_queued_job_status_is_queued(alice_api):
    job_id = upload(alice_api, CLIP).json()["jobs"][0]["id"]

    assert Job.objects.get(pk=job_id).status == JobStatus.QUEUED
