"""The resumable upload API: a file announced, sent in chunks at offsets, then turned into a
recording by moving (not copying) its partial file into storage; and the body cap in front of
Django."""

import asyncio
import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from portal.asgi import django_asgi_app
from portal.body_limit import BodySizeLimit
from tests.audio_files import speech
from tests.factories import UserFactory
from transcription import uploads
from transcription.models import Job, Recording, Upload

CLIP = speech("en_librispeech_1995-1837-0001.wav")
CHUNK = 64 * 1024

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def isolated_storage(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PARTIAL_UPLOADS_DIR = tmp_path / "partial"
    settings.UPLOAD_CHUNK_BYTES = CHUNK
    return tmp_path


def announce(api, name: str = CLIP.name, size: int | None = None):
    size = CLIP.stat().st_size if size is None else size
    return api.post("/api/uploads/", {"name": name, "size": size}, format="json")


def send(api, upload_id: str, offset: int, data: bytes):
    return api.patch(
        f"/api/uploads/{upload_id}/",
        data=data,
        content_type="application/octet-stream",
        HTTP_UPLOAD_OFFSET=str(offset),
    )


def send_file(api, upload_id: str, data: bytes) -> None:
    for offset in range(0, len(data), CHUNK):
        response = send(api, upload_id, offset, data[offset : offset + CHUNK])
        assert response.status_code == 200, response.json()


def finish(api, *upload_ids: str, **options):
    return api.post("/api/recordings/", {"uploads": list(upload_ids), **options}, format="json")


def test_announcing_a_file_answers_where_to_send_it(alice_api, isolated_storage):
    response = announce(alice_api, name="../../etc/\u202eevil\x07.wav")

    assert response.status_code == 201
    body = response.json()
    assert (body["offset"], body["complete"], body["chunk_bytes"]) == (0, False, CHUNK)
    assert body["name"] == "evil.wav"
    assert response["Location"] == f"/api/uploads/{body['id']}/"
    # The partial file has a server-made name, never the client's.
    assert [p.name for p in (isolated_storage / "partial").iterdir()] == [f"{body['id']}.part"]


def test_a_file_sent_in_chunks_becomes_a_recording_moved_not_copied(alice_api, isolated_storage):
    data = CLIP.read_bytes()
    upload_id = announce(alice_api).json()["id"]
    send_file(alice_api, upload_id, data)
    status = alice_api.get(f"/api/uploads/{upload_id}/").json()
    assert (status["offset"], status["complete"]) == (len(data), True)
    partial = isolated_storage / "partial" / f"{upload_id}.part"
    inode = partial.stat().st_ino

    response = finish(alice_api, upload_id, language="en", hotwords="FunASR", itn=False)

    assert response.status_code == 201, response.json()
    [job] = response.json()["jobs"]
    assert response.json()["rejected"] == []
    assert (job["language"], job["hotwords"], job["itn"]) == ("en", ["FunASR"], False)
    assert job["recording"]["name"] == CLIP.name
    assert job["recording"]["duration_s"] == pytest.approx(8.73, abs=0.1)
    stored = Path(Recording.objects.get().file.path)
    assert stored.read_bytes() == data
    # The same inode: the partial file was renamed into storage, its bytes not written again.
    assert stored.stat().st_ino == inode
    assert not partial.exists()
    assert not Upload.objects.exists()


def test_a_chunk_at_the_wrong_offset_is_refused_with_the_current_one(alice_api):
    upload_id = announce(alice_api).json()["id"]
    data = CLIP.read_bytes()
    assert send(alice_api, upload_id, 0, data[:CHUNK]).status_code == 200

    # The same chunk again (its answer was lost), and one that skips ahead.
    for offset in (0, 2 * CHUNK):
        response = send(alice_api, upload_id, offset, data[offset : offset + CHUNK])
        assert response.status_code == 409
        assert response.json()["offset"] == CHUNK
        assert response["Upload-Offset"] == str(CHUNK)
    assert Upload.objects.get().received == CHUNK


def test_a_chunk_without_an_offset_or_as_the_wrong_type_is_refused(alice_api):
    upload_id = announce(alice_api).json()["id"]

    no_offset = alice_api.patch(
        f"/api/uploads/{upload_id}/", data=b"x", content_type="application/octet-stream"
    )
    as_json = alice_api.patch(f"/api/uploads/{upload_id}/", {"a": 1}, format="json")

    assert no_offset.status_code == 400
    assert "Upload-Offset" in no_offset.json()
    assert as_json.status_code == 415
    assert Upload.objects.get().received == 0


def test_a_chunk_over_the_chunk_size_or_past_the_end_is_refused_and_not_kept(
    alice_api, isolated_storage
):
    upload_id = announce(alice_api, size=CHUNK + 10).json()["id"]
    partial = isolated_storage / "partial" / f"{upload_id}.part"

    too_big = send(alice_api, upload_id, 0, b"a" * (CHUNK + 1))
    assert too_big.status_code == 413
    assert str(CHUNK) in too_big.json()["detail"]
    assert partial.stat().st_size == 0
    assert send(alice_api, upload_id, 0, b"a" * CHUNK).status_code == 200
    past_end = send(alice_api, upload_id, CHUNK, b"b" * 11)

    assert past_end.status_code == 400
    assert "10 bytes are left" in past_end.json()["detail"]
    assert partial.stat().st_size == CHUNK
    assert Upload.objects.get().received == CHUNK


def test_a_file_over_the_upload_limit_is_refused_when_announced(alice_api, settings):
    settings.MAX_UPLOAD_MB = 1

    response = announce(alice_api, size=1024 * 1024 + 1)

    assert response.status_code == 413
    assert response.json()["detail"] == "the file is larger than the 1 MB limit"
    assert not Upload.objects.exists()


def test_unfinished_uploads_are_bounded_in_number_and_bytes(alice_api, bob_api, settings):
    settings.UPLOAD_PENDING_MAX_COUNT = 2
    settings.UPLOAD_PENDING_MAX_MB = 3
    assert announce(alice_api, size=1024 * 1024).status_code == 201
    assert announce(alice_api, size=1024 * 1024).status_code == 201

    too_many = announce(alice_api, size=1)
    assert too_many.status_code == 429
    assert "2 unfinished uploads" in too_many.json()["detail"]
    too_much = announce(bob_api, size=3 * 1024 * 1024 + 1)
    assert too_much.status_code == 429
    assert "3 MB" in too_much.json()["detail"]
    # Cancelling one makes room again.
    alice_api.delete(f"/api/uploads/{Upload.objects.filter(owner__username='alice')[0].pk}/")
    assert announce(alice_api, size=1).status_code == 201


def test_another_users_upload_is_not_found(alice_api, bob_api):
    upload_id = announce(alice_api).json()["id"]

    assert bob_api.get(f"/api/uploads/{upload_id}/").status_code == 404
    assert send(bob_api, upload_id, 0, b"x").status_code == 404
    assert bob_api.delete(f"/api/uploads/{upload_id}/").status_code == 404
    assert bob_api.get("/api/uploads/").json()["results"] == []
    refused = finish(bob_api, upload_id)
    assert refused.status_code == 400
    assert refused.json()["uploads"] == [f"No such upload: {upload_id}."]
    assert Upload.objects.get().received == 0
    assert not Job.objects.exists()


def test_anonymous_requests_are_refused(client, alice_api):
    upload_id = announce(alice_api).json()["id"]

    assert client.post("/api/uploads/", {"name": "a", "size": 1}).status_code in (401, 403)
    assert client.get(f"/api/uploads/{upload_id}/").status_code in (401, 403)


def test_an_unfinished_upload_is_rejected_and_kept_to_resume(alice_api):
    data = CLIP.read_bytes()
    upload_id = announce(alice_api).json()["id"]
    send(alice_api, upload_id, 0, data[:CHUNK])

    response = finish(alice_api, upload_id)

    assert response.status_code == 400
    assert response.json()["rejected"] == [
        {
            "file": CLIP.name,
            "reason": f"the upload is not finished ({CHUNK} of {len(data)} bytes)",
        }
    ]
    send_file_from = range(CHUNK, len(data), CHUNK)
    for offset in send_file_from:
        send(alice_api, upload_id, offset, data[offset : offset + CHUNK])
    assert finish(alice_api, upload_id).status_code == 201


def test_a_finished_upload_that_is_not_audio_is_rejected_and_removed(alice_api, isolated_storage):
    text = b"This is a text file pretending to be audio.\n" * 50
    upload_id = announce(alice_api, name="notes.wav", size=len(text)).json()["id"]
    send_file(alice_api, upload_id, text)
    good_id = announce(alice_api).json()["id"]
    send_file(alice_api, good_id, CLIP.read_bytes())

    response = finish(alice_api, upload_id, good_id)

    assert response.status_code == 201
    assert [j["recording"]["name"] for j in response.json()["jobs"]] == [CLIP.name]
    [rejection] = response.json()["rejected"]
    assert rejection["file"] == "notes.wav"
    assert "not a readable audio or video file" in rejection["reason"]
    assert not Upload.objects.exists()
    assert list((isolated_storage / "partial").iterdir()) == []
    # An upload is used once.
    again = finish(alice_api, good_id)
    assert again.status_code == 400
    assert "uploads" in again.json()


def test_multipart_files_and_finished_uploads_go_together(alice_api):
    upload_id = announce(alice_api).json()["id"]
    send_file(alice_api, upload_id, CLIP.read_bytes())

    with CLIP.open("rb") as handle:
        response = alice_api.post(
            "/api/recordings/", {"files": [handle], "uploads": [upload_id]}, format="multipart"
        )

    assert response.status_code == 201, response.json()
    assert len(response.json()["jobs"]) == 2


def test_cancelling_an_upload_removes_its_partial_file(alice_api, isolated_storage):
    upload_id = announce(alice_api).json()["id"]
    send(alice_api, upload_id, 0, b"abc")

    assert alice_api.delete(f"/api/uploads/{upload_id}/").status_code == 204

    assert not Upload.objects.exists()
    assert list((isolated_storage / "partial").iterdir()) == []


def test_abandoned_uploads_expire_with_their_partial_files(alice, settings, isolated_storage):
    settings.UPLOAD_EXPIRY_HOURS = 1
    old = uploads.upload_create(owner=alice, name="old.wav", size=10)
    fresh = uploads.upload_create(owner=alice, name="fresh.wav", size=10)
    Upload.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(hours=2))
    # A partial file whose row went with its owner.
    gone = UserFactory(username="gone")
    orphan = uploads.upload_create(owner=gone, name="orphan.wav", size=10).path
    gone.delete()
    two_hours_ago = (timezone.now() - timedelta(hours=2)).timestamp()
    os.utime(orphan, (two_hours_ago, two_hours_ago))

    assert uploads.uploads_expire() == 1

    assert list(Upload.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert [p.name for p in (isolated_storage / "partial").iterdir()] == [fresh.path.name]


def test_the_expiry_task_is_scheduled_on_the_upkeep_queue(settings):
    [entry] = [
        e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"].endswith("expire_uploads")
    ]
    assert settings.CELERY_TASK_ROUTES[entry["task"]] == {"queue": settings.MAINTENANCE_QUEUE}


# The body cap, driven as the server drives it: ASGI messages into the real application.


def run_asgi(app, headers: list[tuple[bytes, bytes]], body_parts: list[bytes]):
    """Calls the ASGI app with a POST whose body arrives in `body_parts`; returns the response
    start message, its body and how many body parts the app read."""
    asked = 0
    sent = []

    async def receive():
        nonlocal asked
        asked += 1
        if asked > len(body_parts):
            # The client waits for its answer; Django listens for a disconnect meanwhile.
            await asyncio.sleep(3600)
        return {
            "type": "http.request",
            "body": body_parts[asked - 1],
            "more_body": asked < len(body_parts),
        }

    async def send_message(message):
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/api/recordings/", "raw_path": b"/api/recordings/",
        "query_string": b"", "root_path": "", "headers": [(b"host", b"localhost"), *headers],
        "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
    }  # fmt: skip
    asyncio.run(app(scope, receive, send_message))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start, body, min(asked, len(body_parts))


LIMIT = 1024


def test_a_declared_body_over_the_cap_is_refused_unread():
    app = BodySizeLimit(django_asgi_app, max_bytes=LIMIT)

    start, body, read = run_asgi(app, [(b"content-length", b"1073741824")], [b"x" * 100] * 20)

    assert start["status"] == 413
    assert (b"connection", b"close") in start["headers"]
    assert b"larger than the" in body and b"/api/uploads/" in body
    assert read == 0


def test_a_streamed_body_over_the_cap_is_refused_once_it_passes_it():
    app = BodySizeLimit(django_asgi_app, max_bytes=LIMIT)

    start, _, read = run_asgi(app, [(b"transfer-encoding", b"chunked")], [b"x" * 100] * 1000)

    assert start["status"] == 413
    assert read == LIMIT // 100 + 1


@pytest.mark.django_db(transaction=True)
def test_a_body_under_the_cap_reaches_django():
    app = BodySizeLimit(django_asgi_app, max_bytes=LIMIT)

    start, _, read = run_asgi(app, [(b"content-length", b"300")], [b"x" * 100] * 3)

    assert start["status"] in (401, 403)  # anonymous: Django answered
    assert read == 3
