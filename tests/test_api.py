"""The jobs and recordings API: scoping, exports, cancel, retry, rename, delete, seeking audio."""

import csv
import html
import io
import json
import re
from pathlib import Path

import pytest
import srt
import webvtt
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import JobFactory, SucceededJobFactory
from transcription import broker, media
from transcription.models import Job, JobStatus, Recording

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def isolated_media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def alice_job(alice):
    return SucceededJobFactory(recording__owner=alice)


def owner_routes(job: Job) -> list[tuple[str, str]]:
    rec = job.recording_id
    return [
        ("get", f"/api/jobs/{job.pk}/"),
        ("get", f"/api/jobs/{job.pk}/export/?format=srt"),
        ("post", f"/api/jobs/{job.pk}/cancel/"),
        ("post", f"/api/jobs/{job.pk}/retry/"),
        ("get", f"/api/recordings/{rec}/"),
        ("get", f"/api/recordings/{rec}/audio/"),
        ("patch", f"/api/recordings/{rec}/"),
        ("delete", f"/api/recordings/{rec}/"),
    ]


def test_another_users_objects_answer_404_everywhere(alice_job, bob_api):
    for method, url in owner_routes(alice_job):
        response = getattr(bob_api, method)(url)
        assert response.status_code == 404, (method, url, response.status_code)
    assert Job.objects.filter(pk=alice_job.pk, status=JobStatus.SUCCEEDED).exists()
    assert Recording.objects.filter(pk=alice_job.recording_id).exists()


def test_anonymous_requests_are_refused(alice_job, client):
    for method, url in [*owner_routes(alice_job), ("get", "/api/search/?q=Kenobi")]:
        assert getattr(client, method)(url).status_code in (401, 403), url


def test_lists_show_only_own_objects_newest_first(alice, bob, alice_api):
    older, newer = JobFactory(recording__owner=alice), JobFactory(recording__owner=alice)
    JobFactory(recording__owner=bob)

    jobs = alice_api.get("/api/jobs/").json()
    recordings = alice_api.get("/api/recordings/").json()

    assert [j["id"] for j in jobs["results"]] == [newer.pk, older.pk]
    assert jobs["count"] == 2
    assert [r["id"] for r in recordings["results"]] == [newer.recording_id, older.recording_id]
    assert recordings["results"][0]["latest_job"]["id"] == newer.pk


def test_list_query_count_does_not_grow_with_rows(alice, alice_api):
    def queries_for(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert alice_api.get(url).status_code == 200
        return len(captured)

    JobFactory(recording__owner=alice)
    few = {url: queries_for(url) for url in ("/api/jobs/", "/api/recordings/")}
    for _ in range(5):
        JobFactory(recording__owner=alice)
    assert {url: queries_for(url) for url in few} == few


def test_job_detail_carries_the_transcript(alice_api, alice_job):
    body = alice_api.get(f"/api/jobs/{alice_job.pk}/").json()

    assert body["status"] == "succeeded"
    assert body["progress"] == 100
    assert body["transcript"] == {
        "text": "Hello there. General Kenobi.",
        "language": "en",
        "segments": [
            {"start": 0.0, "end": 2.0, "text": "Hello there."},
            {"start": 2.5, "end": 4.5, "text": "General Kenobi."},
        ],
    }


def test_unfinished_job_has_no_transcript(alice, alice_api):
    job = JobFactory(recording__owner=alice)

    assert alice_api.get(f"/api/jobs/{job.pk}/").json()["transcript"] is None


def export(api, job: Job, fmt: str):
    return api.get(f"/api/jobs/{job.pk}/export/?format={fmt}")


def test_exports_in_every_format(alice_api, alice_job, tmp_path):
    txt = export(alice_api, alice_job, "txt")
    assert txt.content.decode() == "Hello there.\nGeneral Kenobi.\n"
    assert 'filename="meeting' in txt["Content-Disposition"]

    rows = list(csv.reader(io.StringIO(export(alice_api, alice_job, "csv").content.decode())))
    assert rows == [["start", "end", "text"], ["0.000", "2.000", "Hello there."],
                    ["2.500", "4.500", "General Kenobi."]]  # fmt: skip

    cues = list(srt.parse(export(alice_api, alice_job, "srt").content.decode()))
    assert [(c.start.total_seconds(), c.end.total_seconds(), c.content) for c in cues] == [
        (0.0, 2.0, "Hello there."),
        (2.5, 4.5, "General Kenobi."),
    ]

    vtt_file = tmp_path / "t.vtt"
    vtt_file.write_bytes(export(alice_api, alice_job, "vtt").content)
    vtt = webvtt.read(str(vtt_file))
    assert [(c.start, c.end, c.text) for c in vtt] == [
        ("00:00:00.000", "00:00:02.000", "Hello there."),
        ("00:00:02.500", "00:00:04.500", "General Kenobi."),
    ]

    document = json.loads(export(alice_api, alice_job, "json").content)
    assert document["language"] == "en"
    assert [s["text"] for s in document["segments"]] == ["Hello there.", "General Kenobi."]


def test_csv_export_neutralises_formulas(alice):
    hostile = ['=HYPERLINK("x")', "+1", "-2", "@SUM(A1)", "\tTab", "\rCR", "plain"]
    job = SucceededJobFactory(recording__owner=alice, segments=hostile)

    rows = list(csv.reader(io.StringIO(export_content(job, "csv"))))

    assert [row[2] for row in rows[1:]] == ["'" + h for h in hostile[:-1]] + ["plain"]


def test_subtitle_text_cannot_break_cues(alice):
    job = SucceededJobFactory(recording__owner=alice, segments=["a --> b", "line\n\nbreak"])

    cues = list(srt.parse(export_content(job, "srt")))

    assert [c.content for c in cues] == ["a -> b", "line break"]


HOSTILE_TEXTS = [
    "<script>alert(1)</script> hi",
    "Tom & Jerry <b>bold</b> 1 < 2",
    "{\\an8}top {y:i}italic",
    "<u>x</u> --> y",
    "<i></i>",
]


def test_vtt_cue_text_escapes_markup(alice, tmp_path):
    job = SucceededJobFactory(recording__owner=alice, segments=HOSTILE_TEXTS)
    content = export_content(job, "vtt")
    vtt_file = tmp_path / "t.vtt"
    vtt_file.write_text(content)

    captions = webvtt.read(str(vtt_file))

    assert "<" not in content and ">" not in content.replace(" --> ", "")
    assert re.findall(r"&(?!amp;|lt;|gt;)", content) == []
    assert [html.unescape(c.text) for c in captions] == [
        "<script>alert(1)</script> hi",
        "Tom & Jerry <b>bold</b> 1 < 2",
        "{\\an8}top {y:i}italic",
        "<u>x</u> -> y",
        "<i></i>",
    ]


def test_srt_cue_text_carries_no_markup(alice):
    job = SucceededJobFactory(recording__owner=alice, segments=HOSTILE_TEXTS)

    cues = list(srt.parse(export_content(job, "srt")))

    # SubRip has no escapes: tags and style overrides are left out, lone < and & kept, and a
    # cue of nothing but markup dropped.
    assert [c.content for c in cues] == [
        "alert(1) hi",
        "Tom & Jerry bold 1 < 2",
        "top italic",
        "x -> y",
    ]
    assert [c.index for c in cues] == [1, 2, 3, 4]


def test_subtitle_cues_split_at_sentences_within_seven_seconds_and_42_characters(alice):
    long_english = (
        "It was the first great sorrow of his life. It was not so much the loss of the cotton "
        "itself, but the fantasy, the hopes, the dreams built around it."
    )
    long_mandarin = "欢迎大家来体验达摩院推出的语音识别模型。" * 4
    job = SucceededJobFactory(recording__owner=alice, segments=[long_english, long_mandarin])
    job.segments.filter(index=0).update(start=0, end=20)
    job.segments.filter(index=1).update(start=20, end=45)

    cues = list(srt.parse(export_content(job, "srt")))

    assert cues[0].content == "It was the first great sorrow of his life."
    for cue in cues:
        assert (cue.end - cue.start).total_seconds() <= 7.0 + 1e-6
        assert all(len(line) <= 42 for line in cue.content.splitlines())
    starts = [c.start for c in cues]
    assert starts == sorted(starts)
    assert "".join(c.content.replace("\n", " ") for c in cues).replace(" ", "") == (
        long_english + long_mandarin
    ).replace(" ", "")


def export_content(job: Job, fmt: str) -> str:
    from transcription.exports import export_job

    return export_job(job, fmt).content


def test_export_of_unknown_format_or_unfinished_job_is_400(alice, alice_api, alice_job):
    assert export(alice_api, alice_job, "pdf").status_code == 400
    queued = JobFactory(recording__owner=alice)
    response = export(alice_api, queued, "txt")
    assert response.status_code == 400
    assert "queued" in response.json()["detail"]


def test_cancel_a_queued_job_ends_it_at_once(alice, alice_api):
    job = JobFactory(recording__owner=alice)

    body = alice_api.post(f"/api/jobs/{job.pk}/cancel/").json()

    assert body["status"] == "cancelled"
    job.refresh_from_db()
    assert (job.status, job.cancel_requested) == (JobStatus.CANCELLED, True)
    assert not job.claim(worker="w")


def test_cancel_a_running_job_asks_the_worker_to_stop(alice, alice_api):
    job = JobFactory(recording__owner=alice)
    assert job.claim(worker="w")

    body = alice_api.post(f"/api/jobs/{job.pk}/cancel/").json()

    assert body["status"] == "running"
    assert job.cancel_was_requested()


def test_retry_requeues_a_failed_job(
    alice, alice_api, django_capture_on_commit_callbacks, job_queue
):
    job = JobFactory(recording__owner=alice, status=JobStatus.FAILED, error="boom", attempts=3)

    with django_capture_on_commit_callbacks(execute=True):
        body = alice_api.post(f"/api/jobs/{job.pk}/retry/").json()

    assert (body["status"], body["error"], body["attempts"]) == ("queued", "", 0)
    assert broker.jobs_with_messages() == {job.pk}


def test_retry_of_an_active_job_is_refused(alice, alice_api):
    job = JobFactory(recording__owner=alice)

    assert alice_api.post(f"/api/jobs/{job.pk}/retry/").status_code == 400


def test_rename_recording(alice_api, alice_job):
    url = f"/api/recordings/{alice_job.recording_id}/"

    response = alice_api.patch(url, {"name": "Q3 / plans\\draft\u202e"}, format="json")

    assert response.status_code == 200
    assert response.json()["name"] == "Q3 - plans-draft"


def test_delete_removes_the_stored_audio(alice_api, alice_job, isolated_media):
    stored = Path(alice_job.recording.file.path)
    assert stored.exists()

    response = alice_api.delete(f"/api/recordings/{alice_job.recording_id}/")

    assert response.status_code == 204
    assert not stored.exists()
    assert not Job.objects.filter(pk=alice_job.pk).exists()
    assert [p for p in isolated_media.rglob("*") if p.is_file()] == []


def test_audio_answers_byte_ranges(alice_api, alice_job):
    url = f"/api/recordings/{alice_job.recording_id}/audio/"
    whole = b"".join(alice_api.get(url).streaming_content)

    partial = alice_api.get(url, HTTP_RANGE="bytes=4-7")
    tail = alice_api.get(url, HTTP_RANGE="bytes=-4")
    beyond = alice_api.get(url, HTTP_RANGE=f"bytes={len(whole)}-")

    assert partial.status_code == 206
    assert partial["Content-Range"] == f"bytes 4-7/{len(whole)}"
    assert b"".join(partial.streaming_content) == whole[4:8]
    assert b"".join(tail.streaming_content) == whole[-4:]
    assert beyond.status_code == 416


def test_audio_is_handed_to_nginx_once_access_is_checked(alice_api, bob_api, alice_job, settings):
    settings.MEDIA_ACCEL_REDIRECT = True
    url = f"/api/recordings/{alice_job.recording_id}/audio/"

    response = alice_api.get(url, HTTP_RANGE="bytes=4-7")
    refused = bob_api.get(url)

    assert response.status_code == 200
    assert response.content == b""
    assert response["X-Accel-Redirect"] == f"/protected-media/{alice_job.recording.file.name}"
    assert response["Content-Type"] == "audio/wav"
    assert response["Content-Disposition"] == f'inline; filename="{alice_job.recording.name}"'
    assert refused.status_code == 404
    assert "X-Accel-Redirect" not in refused


def test_accel_redirect_path_is_url_quoted():
    response = media.accel_redirect_response(
        "playback/a b?#%é.ogg", content_type="audio/ogg", filename="x.ogg"
    )

    assert response["X-Accel-Redirect"] == "/protected-media/playback/a%20b%3F%23%25%C3%A9.ogg"


def test_audio_in_a_storage_nginx_cannot_reach_is_streamed(alice_api, alice, settings):
    settings.MEDIA_ACCEL_REDIRECT = True
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    recording = SucceededJobFactory(recording__owner=alice).recording

    response = alice_api.get(f"/api/recordings/{recording.pk}/audio/", HTTP_RANGE="bytes=0-3")

    assert "X-Accel-Redirect" not in response
    assert response.status_code == 206
    assert b"".join(response.streaming_content) == b"RIFF"


def test_options_list_enabled_models_and_languages(alice_api):
    body = alice_api.get("/api/options/").json()

    assert body["models"] == ["whisper-base"]
    assert {"code": "zh-TW", "name": "Chinese (Mandarin, traditional)"} in body["languages"]
    assert body["model_languages"] == {"whisper-base": None}


def test_options_say_which_languages_a_model_can_be_told(alice_api, settings):
    settings.ASR_ENABLED_MODELS = ["whisper-base", "paraformer-zh"]

    body = alice_api.get("/api/options/").json()

    assert body["model_languages"] == {"whisper-base": None, "paraformer-zh": ["zh", "zh-TW"]}


def test_token_endpoint_returns_a_working_token(alice, client):
    response = client.post("/api/token/", {"username": "alice", "password": "pw-for-tests"})

    token = response.json()["token"]
    assert client.get("/api/jobs/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200
