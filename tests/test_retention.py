"""Audio retention: a team's audio older than its audio_retention_days is deleted from storage,
hourly through beat; the transcript, its exports and search stay, the page says so."""

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from accounts.models import Role, Team
from portal.celery import app as celery_app
from tests.factories import MembershipFactory, RecordingFactory, SucceededJobFactory, TeamFactory
from transcription import retention
from transcription.models import JobStatus, Recording, Segment
from transcription.tasks import remove_expired_audio

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def isolated_storage(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return tmp_path


@pytest.fixture
def team(alice) -> Team:
    team = TeamFactory(audio_retention_days=30)
    MembershipFactory(team=team, user=alice, role=Role.MEMBER)
    return team


def aged(days: float, **fields) -> Recording:
    """A recording made `days` ago, with a transcript and a playback copy."""
    recording = RecordingFactory(created_at=timezone.now() - timedelta(days=days), **fields)
    recording.playback_file.save("playback", ContentFile(b"m4a"))
    SucceededJobFactory(recording=recording)
    return recording


def stored(recording: Recording) -> list[bool]:
    return [Path(f.path).exists() for f in (recording.file, recording.playback_file)]


def test_audio_older_than_the_team_keeps_it_is_deleted_and_the_transcript_kept(alice, team):
    old = aged(31, owner=alice, team=team)
    folder = Path(old.file.path).parent

    assert retention.expired_audio_remove() == 1

    old.refresh_from_db()
    assert stored(old) == [False, False]
    assert not folder.exists()
    assert not old.has_audio
    assert timezone.now() - old.audio_removed_at < timedelta(minutes=1)
    job = old.jobs.get()
    assert job.text == "Hello there. General Kenobi."
    assert Segment.objects.filter(job=job).count() == 2


def test_recordings_not_old_enough_and_outside_such_teams_are_untouched(alice, team):
    recent = aged(29, owner=alice, team=team)
    personal = aged(400, owner=alice)
    kept_for_ever = aged(400, owner=alice, team=TeamFactory())

    assert retention.expired_audio_remove() == 0

    for recording in (recent, personal, kept_for_ever):
        recording.refresh_from_db()
        assert recording.has_audio
        assert stored(recording) == [True, True]


def test_removing_twice_changes_nothing(alice, team):
    old = aged(31, owner=alice, team=team)
    retention.expired_audio_remove()
    old.refresh_from_db()
    removed_at = old.audio_removed_at

    assert retention.expired_audio_remove() == 0

    old.refresh_from_db()
    assert old.audio_removed_at == removed_at


def test_a_file_that_cannot_be_deleted_is_logged_and_the_others_still_go(alice, team, caplog):
    stuck, other = aged(40, owner=alice, team=team), aged(35, owner=alice, team=team)
    # Its original's name now holds a folder with a file in it: the storage cannot delete it.
    original = Path(stuck.file.path)
    original.unlink()
    original.mkdir()
    (original / "keep").write_bytes(b"x")

    with caplog.at_level(logging.ERROR, logger="transcription.retention"):
        assert retention.expired_audio_remove() == 1

    stuck.refresh_from_db()
    other.refresh_from_db()
    assert (stuck.has_audio, other.has_audio) == (True, False)
    assert f"Could not remove the audio of recording {stuck.pk}" in caplog.text


def test_a_recording_with_a_job_running_keeps_its_audio_until_it_ends(alice, team):
    old = aged(31, owner=alice, team=team)
    old.jobs.update(status=JobStatus.RUNNING)

    assert retention.expired_audio_remove() == 0

    old.jobs.update(status=JobStatus.SUCCEEDED)
    assert retention.expired_audio_remove() == 1


def test_after_removal_exports_search_and_the_page_still_work(alice, alice_api, client, team):
    old = aged(31, owner=alice, team=team)
    job = old.jobs.get()
    retention.expired_audio_remove()
    old.refresh_from_db()

    export = alice_api.get(f"/api/jobs/{job.pk}/export/?format=srt")
    assert export.status_code == 200
    assert b"General Kenobi." in export.content
    hits = alice_api.get("/api/search/?q=Kenobi").json()["results"]
    assert [hit["recording"] for hit in hits] == [old.pk]
    assert alice_api.get(f"/api/recordings/{old.pk}/audio/").status_code == 410
    retry = alice_api.post(f"/api/jobs/{job.pk}/retry/")
    assert retry.status_code == 400
    assert "audio was removed" in retry.json()["detail"]

    client.force_login(alice)
    page = client.get(reverse("recording", args=[old.pk])).content.decode()
    removed_on = date_format(timezone.localtime(old.audio_removed_at), "DATE_FORMAT")
    assert (
        f"Audio removed on {removed_on} (the team keeps audio 30 days); the transcript stays."
        in page
    )
    assert reverse("api:recording-audio", args=[old.pk]) not in page  # no player


def test_a_recording_with_audio_shows_the_player(alice, client, team):
    recording = aged(1, owner=alice, team=team)
    client.force_login(alice)

    page = client.get(reverse("recording", args=[recording.pk])).content.decode()

    assert f'src="{reverse("api:recording-audio", args=[recording.pk])}"' in page
    assert "Audio removed" not in page


def test_beat_sends_the_retention_task_hourly(alice, team):
    entry = settings.CELERY_BEAT_SCHEDULE["remove-expired-audio"]
    assert entry["task"] == remove_expired_audio.name
    assert entry["schedule"] == 3600
    assert remove_expired_audio.name in celery_app.tasks
    old = aged(31, owner=alice, team=team)

    remove_expired_audio.apply()

    old.refresh_from_db()
    assert not old.has_audio
