"""POST /api/recordings/bulk/: a zip of the chosen transcripts read back, and delete and re-run
done only where the user may change the recording, the others reported with their reason."""

import io
import zipfile

import pytest

from accounts.models import Role
from tests.factories import (
    JobFactory,
    MembershipFactory,
    SucceededJobFactory,
    TeamFactory,
)
from transcription.models import JobStatus, Recording

pytestmark = pytest.mark.django_db


def bulk(api, **body):
    return api.post("/api/recordings/bulk/", body, format="json")


def test_export_zips_the_finished_transcripts_and_says_which_were_left_out(alice, alice_api, bob):
    done = SucceededJobFactory(recording__owner=alice, recording__name="standup.wav")
    waiting = JobFactory(recording__owner=alice, recording__name="waiting.wav")
    bobs = SucceededJobFactory(recording__owner=bob)
    ids = [done.recording_id, waiting.recording_id, bobs.recording_id]

    response = bulk(alice_api, action="export", ids=ids, format="srt")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.namelist() == [f"{done.recording_id}-standup.srt", "README.txt"]
    srt = archive.read(f"{done.recording_id}-standup.srt").decode()
    assert "General Kenobi." in srt and "-->" in srt
    readme = archive.read("README.txt").decode()
    assert "1 transcript(s) exported" in readme
    assert (
        f"waiting.wav (recording {waiting.recording_id}): no finished transcript (queued)" in readme
    )
    assert f"recording {bobs.recording_id}: not found" in readme
    assert bobs.recording.name not in readme


def test_delete_and_rerun_only_what_the_user_may_change(alice, alice_api, bob, bob_api):
    team = TeamFactory()
    MembershipFactory(team=team, user=alice, role=Role.MEMBER)
    MembershipFactory(team=team, user=bob, role=Role.MEMBER)
    mine = SucceededJobFactory(recording__owner=alice)
    teammates = SucceededJobFactory(recording__owner=bob, recording__team=team)
    running = JobFactory(recording__owner=alice, status=JobStatus.RUNNING)

    rerun = bulk(alice_api, action="rerun", ids=[mine.recording_id, teammates.recording_id,
                                                  running.recording_id])  # fmt: skip

    assert rerun.status_code == 200, rerun.content
    assert rerun.json()["done"] == [mine.recording_id]
    assert [r["id"] for r in rerun.json()["refused"]] == [
        teammates.recording_id,
        running.recording_id,
    ]
    assert "owners and admins" in rerun.json()["refused"][0]["reason"]
    assert "still queued or running" in rerun.json()["refused"][1]["reason"]
    mine.refresh_from_db()
    assert mine.status == JobStatus.QUEUED

    deleted = bulk(
        alice_api, action="delete", ids=[mine.recording_id, teammates.recording_id, 999999]
    )

    assert deleted.json()["done"] == [mine.recording_id]
    assert [r["id"] for r in deleted.json()["refused"]] == [teammates.recording_id, 999999]
    assert not Recording.objects.filter(pk=mine.recording_id).exists()
    assert Recording.objects.filter(pk=teammates.recording_id).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "burn", "ids": [1]}, "action"),
        ({"action": "delete", "ids": []}, "ids"),
        ({"action": "delete", "ids": ["one"]}, "ids"),
        ({"action": "export", "ids": [1], "format": "pdf"}, "format"),
    ],
)
def test_an_unusable_request_is_a_400_that_names_the_field(alice_api, body, field):
    response = bulk(alice_api, **body)
    assert response.status_code == 400
    assert field in response.json()
