"""Stored audio goes through Django's storage API only, so workers on other hosts can run jobs: the
local disk is read in place, any other storage (an S3-compatible bucket) through a temporary copy
that never outlives its job; the model owns every stored name."""

import io
import os
import runpy
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import av
import boto3
import pytest
from django.core.files.base import ContentFile
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from gpu_engine.audio import decode_audio
from tests.audio_files import speech, write_audio
from tests.conftest import REPO, start_worker, wait_for_job_end
from tests.factories import RecordingFactory
from transcription import services, storage
from transcription.models import Job, JobLost, JobStatus, Recording, StoredCopy

BUCKET = "voxa-recordings"
PREFIX = "voxa"  # AWS_LOCATION: the objects' key prefix inside the bucket


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    """moto's server mode on a free port, in a thread of this process: an S3-compatible HTTP
    endpoint, and the only one installable here (no MinIO or Ceph); the worker reaches it over
    HTTP like any bucket."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    yield endpoint
    # moto keeps its buckets in this process, past the server: the next test starts empty.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
    server.stop()


@pytest.fixture
def s3_env(s3_endpoint) -> dict[str, str]:
    """The settings a web host and a worker host share to use the bucket (see the README)."""
    return {
        "AWS_STORAGE_BUCKET_NAME": BUCKET,
        "AWS_S3_ENDPOINT_URL": s3_endpoint,
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_S3_ACCESS_KEY_ID": "voxa-test-key",
        "AWS_S3_SECRET_ACCESS_KEY": "voxa-test-secret",
        "AWS_LOCATION": PREFIX,
        "AWS_S3_ADDRESSING_STYLE": "path",
        "AWS_S3_SIGNATURE_VERSION": "s3v4",
    }


@pytest.fixture
def bucket(s3_env):
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_env["AWS_S3_ENDPOINT_URL"],
        region_name=s3_env["AWS_S3_REGION_NAME"],
        aws_access_key_id=s3_env["AWS_S3_ACCESS_KEY_ID"],
        aws_secret_access_key=s3_env["AWS_S3_SECRET_ACCESS_KEY"],
    )
    s3.create_bucket(Bucket=BUCKET)
    return s3


@pytest.fixture
def s3_storage(settings, monkeypatch, s3_env, bucket):
    """This test process is the web host: its storage is the bucket, set from the same
    environment as the worker's through portal/settings.py. Returns the bucket's client."""
    for name, value in s3_env.items():
        monkeypatch.setenv(name, value)
    settings.STORAGES = runpy.run_path(str(REPO / "portal" / "settings.py"))["STORAGES"]
    return bucket


def keys(s3) -> set[str]:
    return {item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}


@pytest.fixture
def scratch_root(settings, tmp_path) -> Path:
    settings.FILE_UPLOAD_TEMP_DIR = tmp_path / "scratch"
    settings.FILE_UPLOAD_TEMP_DIR.mkdir()
    return settings.FILE_UPLOAD_TEMP_DIR


@pytest.mark.django_db
def test_the_recording_names_both_its_stored_copies(s3_storage):
    recording = RecordingFactory()
    recording.playback_file.save("whatever.m4a", ContentFile(b"m4a"))

    assert recording.file.name == f"recordings/{recording.uuid}/original"
    assert recording.playback_file.name == f"recordings/{recording.uuid}/playback.m4a"
    assert recording.playback_file.name == recording.storage_name(StoredCopy.PLAYBACK)


@pytest.mark.django_db
def test_the_local_disk_is_read_in_place(settings, tmp_path, scratch_root):
    settings.MEDIA_ROOT = tmp_path / "media"
    recording = RecordingFactory()

    with storage.local_copy(recording.file) as path:
        assert path == Path(recording.file.path)
        assert list(scratch_root.iterdir()) == []


@pytest.mark.django_db
def test_other_storages_are_read_through_a_temporary_copy_that_goes_whatever_happens(
    s3_storage, scratch_root
):
    recording = RecordingFactory(file=ContentFile(b"RIFF" + os.urandom(3_000_000), name="x"))
    stored = recording.file.read()

    with storage.local_copy(recording.file) as path:
        assert path.is_relative_to(scratch_root)
        assert path.read_bytes() == stored
    assert list(scratch_root.iterdir()) == []

    with pytest.raises(JobLost), storage.local_copy(recording.file) as path:
        raise JobLost("taken over")
    assert not path.exists()
    assert list(scratch_root.iterdir()) == []


@pytest.mark.django_db
def test_delete_removes_both_copies_through_the_storage(s3_storage):
    recording = RecordingFactory()
    recording.playback_file.save("copy", ContentFile(b"m4a"))
    assert len(keys(s3_storage)) == 2

    services.recording_delete(recording=recording)

    assert keys(s3_storage) == set()


# --- A real worker that shares nothing with the web but PostgreSQL, Redis and a bucket ---------

JOB_TIMEOUT_S = 300


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_on_another_host_transcribes_through_the_bucket_only(
    process_env, s3_env, s3_storage, job_queue, alice_api, tiny_model_enabled, settings,
    tmp_path,
):  # fmt: skip
    # MP2 in Matroska: not playable in browsers, so the worker also stores a playback copy.
    clip = speech("en_speechrecognition_english.wav")
    upload = write_audio(
        tmp_path / "meeting.mkv",
        decode_audio(clip, max_seconds=60),
        rate=16000,
        container="matroska",
        codec="mp2",
    )
    web_media, worker_media, worker_scratch = (
        tmp_path / "web-media", tmp_path / "worker-media", tmp_path / "worker-scratch"
    )  # fmt: skip
    for folder in (web_media, worker_media, worker_scratch):
        folder.mkdir()
    settings.MEDIA_ROOT = web_media
    worker_env = {
        **process_env,
        **s3_env,
        "MEDIA_ROOT": str(worker_media),
        "FILE_UPLOAD_TEMP_DIR": str(worker_scratch),
    }
    # On a job queue of the test's own: only this worker sees the job, not the session's worker,
    # which reads the local disk.
    worker = start_worker(
        worker_env, f"s3-{os.getpid()}@localhost", job_queue, tmp_path / "worker.log"
    )

    started = time.monotonic()
    with upload.open("rb") as handle:
        response = alice_api.post(
            "/api/recordings/", {"files": [handle], "model": tiny_model_enabled}, format="multipart"
        )
    assert response.status_code == 201, response.json()
    job = Job.objects.get(pk=response.json()["jobs"][0]["id"])
    wait_for_job_end(job, worker, timeout_s=JOB_TIMEOUT_S)
    print(f"\n[s3] upload to transcript through the bucket: {time.monotonic() - started:.1f} s")

    assert job.status == JobStatus.SUCCEEDED, (job.error, (tmp_path / "worker.log").read_text())
    assert job.segments.exists() and job.text
    recording = Recording.objects.get(pk=job.recording_id)
    original = recording.storage_name(StoredCopy.ORIGINAL)
    playback = recording.storage_name(StoredCopy.PLAYBACK)
    assert (recording.file.name, recording.playback_file.name) == (original, playback)
    assert keys(s3_storage) == {f"{PREFIX}/{original}", f"{PREFIX}/{playback}"}
    assert s3_storage.get_object(Bucket=BUCKET, Key=f"{PREFIX}/{original}")["Body"].read() == (
        upload.read_bytes()
    )
    copy = s3_storage.get_object(Bucket=BUCKET, Key=f"{PREFIX}/{playback}")
    assert copy["ContentType"] == "audio/mp4"
    copied = copy["Body"].read()
    with av.open(io.BytesIO(copied)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"
    # Nothing on either host's disk: no shared folder, no temporary file left by the worker.
    for folder in (web_media, worker_media, worker_scratch):
        assert list(folder.rglob("*")) == [], folder

    # The web serves the playback copy from the bucket, seekable.
    url = f"/api/recordings/{recording.pk}/audio/"
    assert b"".join(alice_api.get(url).streaming_content) == copied
    partial = alice_api.get(url, HTTP_RANGE="bytes=100-1099")
    assert partial.status_code == 206
    assert partial["Content-Type"] == "audio/mp4"
    assert partial["Content-Range"] == f"bytes 100-1099/{len(copied)}"
    assert b"".join(partial.streaming_content) == copied[100:1100]

    assert alice_api.delete(f"/api/recordings/{recording.pk}/").status_code == 204
    assert keys(s3_storage) == set()
