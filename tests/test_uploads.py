"""Uploading through the API: every format accepted, every bad file rejected by name, nothing
left behind."""

import resource
from pathlib import Path

import pytest
from django.core.files.storage import filesystem
from django.core.files.uploadedfile import SimpleUploadedFile

from tests import bad_audio
from tests.audio_files import FORMATS, convert, speech
from transcription import services
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


def clip_pcm() -> bytes:
    return bad_audio.pcm_of(CLIP.read_bytes())


@pytest.mark.parametrize(
    ("case", "header"),
    [
        ("0 bits per sample", {"bits": 0}),
        ("1000 bits per sample", {"bits": 1000}),
        ("format 0xFFFF", {"format_tag": 0xFFFF}),
        ("16-bit float", {"format_tag": 3, "bits": 16}),
    ],
)
def test_wav_header_naming_no_usable_encoding_is_rejected_with_a_reason(
    alice_api, tmp_path, isolated_storage, case, header
):
    bad = bad_audio.write(tmp_path / "odd.wav", bad_audio.wav(clip_pcm(), **header))

    response = upload(alice_api, bad)

    assert response.status_code == 400, case
    assert response.json()["rejected"] == [
        {"file": "odd.wav", "reason": "the audio is in an unknown or unsupported encoding"}
    ]
    assert stored_files(isolated_storage / "media") == []
    assert stored_files(isolated_storage / "uploads") == []


def test_each_file_of_a_multi_file_upload_is_judged_on_its_own(alice_api, tmp_path):
    odd = bad_audio.write(tmp_path / "odd.wav", bad_audio.wav(clip_pcm(), bits=0))
    second = bad_audio.write(tmp_path / "second.wav", CLIP.read_bytes())

    response = upload(alice_api, CLIP, odd, second)

    assert response.status_code == 201
    body = response.json()
    assert [j["recording"]["name"] for j in body["jobs"]] == [CLIP.name, "second.wav"]
    assert [r["file"] for r in body["rejected"]] == ["odd.wav"]
    assert Recording.objects.count() == 2


def test_unexpected_error_on_one_file_rejects_that_file_only(
    alice_api, tmp_path, isolated_storage, monkeypatch
):
    real_probe = services.probe_audio

    def probe_failing_on_second_file(path, *, max_seconds):
        if probe_failing_on_second_file.calls == 1:
            probe_failing_on_second_file.calls += 1
            raise RuntimeError("a bug")
        probe_failing_on_second_file.calls += 1
        return real_probe(path, max_seconds=max_seconds)

    probe_failing_on_second_file.calls = 0
    monkeypatch.setattr(services, "probe_audio", probe_failing_on_second_file)
    names = [bad_audio.write(tmp_path / f"{n}.wav", CLIP.read_bytes()) for n in "abc"]

    response = upload(alice_api, *names)

    assert response.status_code == 201
    body = response.json()
    assert [j["recording"]["name"] for j in body["jobs"]] == ["a.wav", "c.wav"]
    assert body["rejected"] == [{"file": "b.wav", "reason": services.UNEXPECTED_UPLOAD_ERROR}]
    assert len(stored_files(isolated_storage / "media")) == 2


def test_a_copy_cut_short_by_a_storage_error_leaves_nothing_behind(
    alice_api, isolated_storage, monkeypatch
):
    def moved_in_part_then_disk_full(old_file_name, new_file_name, **kwargs):
        # As a move across filesystems (a copy) stopped by a full disk.
        Path(new_file_name).write_bytes(Path(old_file_name).read_bytes()[:1000])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(filesystem, "file_move_safe", moved_in_part_then_disk_full)

    response = upload(alice_api, CLIP)

    assert response.status_code == 400
    assert response.json()["rejected"][0]["reason"] == services.UNEXPECTED_UPLOAD_ERROR
    assert not Recording.objects.exists()
    assert stored_files(isolated_storage / "media") == []


def test_flac_whose_header_gives_no_length_is_measured_before_it_is_accepted(
    alice_api, settings, tmp_path
):
    flac = convert(CLIP, tmp_path / "whole.flac", repeat=3)  # 26 s
    unknown = bad_audio.write(
        tmp_path / "unknown.flac", bad_audio.flac_without_length(flac.read_bytes())
    )

    accepted = upload(alice_api, unknown)
    settings.MAX_AUDIO_HOURS = 20 / 3600
    refused = upload(alice_api, unknown)

    assert accepted.status_code == 201
    assert accepted.json()["jobs"][0]["recording"]["duration_s"] == pytest.approx(26.2, abs=0.1)
    assert refused.status_code == 400
    assert "longer than" in refused.json()["rejected"][0]["reason"]


def test_a_metadata_chunk_claiming_4_gb_costs_only_the_probe_process(alice_api, tmp_path):
    lying = bad_audio.write(
        tmp_path / "lying.wav",
        bad_audio.wav(clip_pcm()[:32000], chunks_after=bad_audio.list_info_chunk(0x60000000)),
    )
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    response = upload(alice_api, lying)

    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    assert grown_mb < 100  # FFmpeg took 1.5 GB here when this process read the header itself
    assert response.status_code in (201, 400)
    assert response.json()["jobs"] or response.json()["rejected"][0]["reason"]


def test_audio_too_short_to_transcribe_is_rejected_at_upload(alice_api, tmp_path):
    blip = bad_audio.write(tmp_path / "blip.wav", CLIP.read_bytes()[:64])  # 0.6 ms

    response = upload(alice_api, blip)

    assert response.status_code == 400
    assert "too short to transcribe" in response.json()["rejected"][0]["reason"]


def test_more_files_than_allowed_answer_json_400(alice_api, settings, tmp_path, isolated_storage):
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES  # 100 unless MAX_FILES_PER_UPLOAD says
    files = [bad_audio.write(tmp_path / f"{n}.wav", b"RIFF") for n in range(limit + 1)]

    response = upload(alice_api, *files)

    assert response.status_code == 400
    assert f"at most {limit} files" in response.json()["detail"]
    assert not Recording.objects.exists()
    assert stored_files(isolated_storage / "uploads") == []


@pytest.mark.parametrize(
    "body",
    [
        b'--xyz\r\nContent-Disposition: form-data; name="files"; filename="a.wav"\r\n\r\nRIFF',
        b"no multipart here",
        b'--xyz\r\nContent-Disposition: form-data; name="a"\r\nContent-Transfer-Encoding: '
        b"base64\r\n\r\n!!!\r\n--xyz--\r\n",
    ],
)
def test_malformed_multipart_answers_json_4xx(alice_api, body):
    response = alice_api.generic(
        "POST", "/api/recordings/", body, content_type="multipart/form-data; boundary=xyz"
    )

    assert 400 <= response.status_code < 500
    assert response.json()


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
    assert recording.name == "evil.wav"
    assert str(recording.uuid) in recording.file.name


def test_path_separators_never_stay_in_an_upload_name():
    assert services.upload_display_name("C:\\Users\\me\\a/b.wav") == "b.wav"
    assert services.display_name("Q3 / plans \\ draft") == "Q3 - plans - draft"


def test_anonymous_upload_is_refused(client):
    response = client.post("/api/recordings/", {})

    assert response.status_code in (401, 403)
    assert not Job.objects.exists()


def test_queued_job_status_is_queued(alice_api):
    job_id = upload(alice_api, CLIP).json()["jobs"][0]["id"]

    assert Job.objects.get(pk=job_id).status == JobStatus.QUEUED
