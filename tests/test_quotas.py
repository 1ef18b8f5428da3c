"""Workspace quotas: audio hours a month and stored audio, for a team and for the personal
workspace; every way audio enters is refused before anything is stored; two uploads at once
cannot both pass a limit; the usage API and its page fragment."""

import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import Role, Team
from tests.audio_files import speech
from tests.conftest import api_client_for, wait_until
from tests.factories import MembershipFactory, RecordingFactory, TeamFactory, UserFactory
from transcription import quotas
from transcription.models import Job, Recording, Upload
from transcription.selectors import PERSONAL

CLIP = speech("en_librispeech_1995-1837-0001.wav")
CLIP_S = 8.73  # its length, as the probe measures it
CHUNK = 64 * 1024
GB = 1024**3

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def isolated_storage(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PARTIAL_UPLOADS_DIR = tmp_path / "partial"
    settings.FILE_UPLOAD_TEMP_DIR = tmp_path / "spool"
    settings.FILE_UPLOAD_TEMP_DIR.mkdir()
    settings.UPLOAD_CHUNK_BYTES = CHUNK
    return tmp_path


@pytest.fixture
def team(alice) -> Team:
    team = TeamFactory(name="Crew")
    MembershipFactory(team=team, user=alice, role=Role.MEMBER)
    return team


def files_left(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def assert_nothing_stored(root: Path) -> None:
    assert files_left(root) == []  # MEDIA_ROOT, PARTIAL_UPLOADS_DIR and the spool alike
    assert not Recording.objects.exists()
    assert not Job.objects.exists()
    assert not Upload.objects.exists()


def hours(seconds: float) -> float:
    return seconds / 3600


def post_file(api, **fields):
    with CLIP.open("rb") as audio:
        return api.post("/api/recordings/", {"files": audio, **fields}, format="multipart")


def announce(api, **fields):
    return api.post(
        "/api/uploads/", {"name": CLIP.name, "size": CLIP.stat().st_size, **fields}, format="json"
    )


def send_whole_file(api, upload_id: str) -> None:
    data = CLIP.read_bytes()
    for offset in range(0, len(data), CHUNK):
        response = api.patch(
            f"/api/uploads/{upload_id}/",
            data=data[offset : offset + CHUNK],
            content_type="application/octet-stream",
            HTTP_UPLOAD_OFFSET=str(offset),
        )
        assert response.status_code == 200, response.json()


# Usage


def test_usage_counts_this_months_audio_and_the_audio_still_stored(alice, bob, team):
    last_month = quotas.month_start() - timedelta(seconds=1)
    RecordingFactory(team=team, owner=alice, duration_s=1800, size_bytes=1000)
    RecordingFactory(team=team, owner=bob, duration_s=3600, size_bytes=2000, created_at=last_month)
    removed = dict(audio_removed_at=timezone.now(), duration_s=900, size_bytes=500)
    RecordingFactory(team=team, owner=alice, **removed)
    RecordingFactory(owner=alice, duration_s=60, size_bytes=7)  # personal
    RecordingFactory(team=TeamFactory(), owner=bob, duration_s=60, size_bytes=7)
    team.monthly_audio_hours, team.storage_gb = 10, 5

    usage = quotas.usage(team)

    assert usage.audio_hours == pytest.approx(0.75)  # this month's, removed audio included
    assert usage.audio_hours_left == pytest.approx(9.25)
    assert usage.storage_bytes == 3000  # what is still stored, last month's included
    assert (usage.storage_limit_bytes, usage.storage_bytes_left) == (5 * GB, 5 * GB - 3000)


def test_personal_usage_is_the_users_recordings_outside_teams(alice, bob, team, settings):
    settings.PERSONAL_MONTHLY_AUDIO_HOURS, settings.PERSONAL_STORAGE_GB = 2.0, None
    RecordingFactory(owner=alice, duration_s=720, size_bytes=100)
    RecordingFactory(owner=alice, team=team, duration_s=3600, size_bytes=1000)
    RecordingFactory(owner=bob, duration_s=3600, size_bytes=1000)

    usage = quotas.usage(PERSONAL, alice)

    assert (usage.audio_hours, usage.audio_hours_left) == (pytest.approx(0.2), pytest.approx(1.8))
    assert (usage.storage_bytes, usage.storage_limit_bytes, usage.storage_bytes_left) == (
        100, None, None,
    )  # fmt: skip


def test_the_month_starts_at_midnight_in_the_sites_time_zone(settings):
    settings.TIME_ZONE = "Pacific/Auckland"  # UTC+13 in December
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # already 1 December there

    assert quotas.month_start(now) == datetime(2026, 11, 30, 11, 0, tzinfo=UTC)


def test_the_message_says_what_is_left_in_plain_words(alice, team):
    team.monthly_audio_hours = 10
    team.save()
    RecordingFactory(team=team, owner=alice, duration_s=9.6 * 3600)

    with transaction.atomic(), pytest.raises(quotas.QuotaExceeded) as refused:
        quotas.ensure_room(team, alice, size_bytes=1, duration_s=1.5 * 3600)

    assert str(refused.value) == (
        "This upload needs 1.5 h of audio but the team has 24 min left this month (10 h a month)."
    )
    assert refused.value.limit == quotas.Limit.AUDIO_HOURS


def test_storage_refusal_says_what_is_left(alice, settings):
    settings.PERSONAL_STORAGE_GB = 1
    RecordingFactory(owner=alice, size_bytes=GB - 300 * 1024 * 1024)

    with transaction.atomic(), pytest.raises(quotas.QuotaExceeded) as refused:
        quotas.ensure_room(PERSONAL, alice, size_bytes=GB // 2, duration_s=1)

    assert str(refused.value) == (
        "This upload needs 512.0\xa0MB of storage but you have 300.0\xa0MB left (1.0\xa0GB in all)."
    )
    assert refused.value.limit == quotas.Limit.STORAGE


def test_an_upload_that_fits_exactly_is_let_in(alice, team):
    team.monthly_audio_hours, team.storage_gb = 1, 1
    team.save()
    RecordingFactory(team=team, owner=alice, duration_s=1800, size_bytes=GB // 2)

    with transaction.atomic():
        quotas.ensure_room(team, alice, size_bytes=GB // 2, duration_s=1800)


# Refused before anything is stored


def test_multipart_upload_over_the_teams_hours_is_refused_and_leaves_nothing(
    alice_api, team, isolated_storage
):
    team.monthly_audio_hours = hours(CLIP_S / 2)
    team.save()

    response = post_file(alice_api, team=team.pk)

    assert response.status_code == 429
    assert response.json()["detail"] == (
        f"{CLIP.name}: This upload needs 9 s of audio but the team has 4 s left this month "
        "(4 s a month)."
    )
    assert response.json()["rejected"][0]["reason"].startswith("This upload needs 9 s")
    assert_nothing_stored(isolated_storage)


def test_multipart_upload_over_the_personal_storage_is_refused_and_leaves_nothing(
    alice_api, settings, isolated_storage
):
    settings.PERSONAL_STORAGE_GB = CLIP.stat().st_size / 2 / GB

    response = post_file(alice_api)

    assert response.status_code == 413
    assert "of storage but you have" in response.json()["detail"]
    assert_nothing_stored(isolated_storage)


def test_a_multipart_upload_within_the_limits_is_stored(alice_api, team):
    team.monthly_audio_hours, team.storage_gb = hours(CLIP_S * 1.5), 1
    team.save()

    assert post_file(alice_api, team=team.pk).status_code == 201
    assert Recording.objects.get().team == team


def test_announcing_a_file_the_storage_has_no_room_for_is_refused(
    alice_api, team, isolated_storage
):
    team.storage_gb = 1
    team.save()
    RecordingFactory(team=team, owner=UserFactory(), size_bytes=GB - 1000)
    before = files_left(isolated_storage)

    response = announce(alice_api, team=team.pk)

    assert response.status_code == 413
    assert response.json() == {
        "detail": f"This upload needs {filesizeformat(CLIP.stat().st_size)} of storage "
        f"but the team has 1000\xa0bytes left (1.0\xa0GB in all)."
    }
    assert files_left(isolated_storage) == before  # no partial file
    assert not Upload.objects.exists()


def test_announcing_over_the_personal_storage_is_refused(alice_api, settings, isolated_storage):
    settings.PERSONAL_STORAGE_GB = 100 / GB

    response = announce(alice_api)

    assert response.status_code == 413
    assert "you have 100\xa0bytes left" in response.json()["detail"]
    assert_nothing_stored(isolated_storage)


def test_announcing_in_a_month_with_no_hours_left_is_refused(alice_api, team, isolated_storage):
    team.monthly_audio_hours = 10
    team.save()
    RecordingFactory(team=team, owner=UserFactory(), duration_s=10 * 3600)
    before = files_left(isolated_storage)

    response = announce(alice_api, team=team.pk)

    assert response.status_code == 429
    assert response.json() == {
        "detail": "The team has no audio hours left this month (10 h a month)."
    }
    assert files_left(isolated_storage) == before
    assert not Upload.objects.exists()


def test_announcing_with_some_hours_left_is_let_in(alice_api, team):
    team.monthly_audio_hours = 10
    team.save()
    RecordingFactory(team=team, owner=UserFactory(), duration_s=10 * 3600 - 1)

    assert announce(alice_api, team=team.pk).status_code == 201


def test_announcing_into_a_team_of_others_is_refused(alice_api):
    others = TeamFactory()

    response = announce(alice_api, team=others.pk)

    assert response.status_code == 400
    assert response.json() == {"team": [f"You are not a member of team {others.pk}."]}


@pytest.mark.parametrize("workspace", ["team", PERSONAL])
def test_a_finished_upload_over_the_hours_is_refused_and_its_partial_file_deleted(
    alice_api, team, settings, isolated_storage, workspace
):
    if workspace == PERSONAL:
        settings.PERSONAL_MONTHLY_AUDIO_HOURS = hours(CLIP_S / 2)
        fields = {}
    else:
        team.monthly_audio_hours = hours(CLIP_S / 2)
        team.save()
        fields = {"team": team.pk}
    upload_id = announce(alice_api, **fields).json()["id"]
    send_whole_file(alice_api, upload_id)
    assert files_left(isolated_storage / "partial")  # the whole file, waiting

    response = alice_api.post("/api/recordings/", {"uploads": [upload_id], **fields}, format="json")

    assert response.status_code == 429
    assert "of audio but" in response.json()["detail"]
    assert_nothing_stored(isolated_storage)


def test_a_resumable_upload_within_the_teams_limits_is_stored(alice_api, team, isolated_storage):
    team.monthly_audio_hours, team.storage_gb = hours(CLIP_S * 1.5), 1
    team.save()
    upload_id = announce(alice_api, team=team.pk).json()["id"]
    send_whole_file(alice_api, upload_id)

    response = alice_api.post(
        "/api/recordings/", {"uploads": [upload_id], "team": team.pk}, format="json"
    )

    assert response.status_code == 201, response.json()
    assert Recording.objects.get().team == team
    assert files_left(isolated_storage / "partial") == []  # moved into storage


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("workspace", ["team", PERSONAL])
def test_two_uploads_at_once_cannot_both_pass_the_limit(
    alice, team, settings, isolated_storage, workspace
):
    """Both uploads are probed and held at the workspace's lock together; let go, they are
    counted one after the other: one is stored, the other refused."""
    if workspace == PERSONAL:
        settings.PERSONAL_MONTHLY_AUDIO_HOURS = hours(CLIP_S * 1.5)
        locked, fields = type(alice).objects.filter(pk=alice.pk), {}
    else:
        team.monthly_audio_hours = hours(CLIP_S * 1.5)
        team.save()
        locked, fields = Team.objects.filter(pk=team.pk), {"team": team.pk}
    api = api_client_for(alice)
    answers = []

    def upload() -> None:
        try:
            answers.append(post_file(api, **fields).status_code)
        finally:
            connection.close()

    uploads = [threading.Thread(target=upload) for _ in range(2)]
    with transaction.atomic():
        list(locked.select_for_update())
        for thread in uploads:
            thread.start()
        wait_until(lambda: waiting_for_me() == 2, timeout_s=30)
    for thread in uploads:
        thread.join(timeout=60)

    assert sorted(answers) == [201, 429]
    assert Recording.objects.count() == Job.objects.count() == 1
    assert len(files_left(isolated_storage / "media")) == 1


def waiting_for_me() -> int:
    """How many other sessions of this database wait for a lock (the first for this one's, the
    next for the first's turn)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # else the first answer stays
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


# The usage API and its fragment


def test_a_member_reads_the_teams_usage(alice_api, alice, team):
    team.monthly_audio_hours, team.storage_gb = 10, 5
    team.save()
    RecordingFactory(team=team, owner=alice, duration_s=1800, size_bytes=1000)

    response = alice_api.get(f"/api/usage/?workspace={team.pk}")

    assert response.status_code == 200
    assert response.json() == {
        "workspace": team.pk,
        "month": timezone.localtime().strftime("%Y-%m"),
        "audio_hours_this_month": 0.5,
        "monthly_audio_hours": 10.0,
        "audio_hours_left": 9.5,
        "storage_bytes": 1000,
        "storage_limit_bytes": 5 * GB,
        "storage_bytes_left": 5 * GB - 1000,
    }


def test_personal_usage_without_limits_answers_nulls(alice_api, alice):
    RecordingFactory(owner=alice, duration_s=360, size_bytes=10)

    body = alice_api.get("/api/usage/?workspace=personal").json()

    assert body["workspace"] == "personal"
    assert (body["audio_hours_this_month"], body["storage_bytes"]) == (0.1, 10)
    assert [body[k] for k in ("monthly_audio_hours", "audio_hours_left")] == [None, None]
    assert [body[k] for k in ("storage_limit_bytes", "storage_bytes_left")] == [None, None]


def test_others_are_told_the_team_does_not_exist(bob_api, team, client):
    assert bob_api.get(f"/api/usage/?workspace={team.pk}").status_code == 404
    assert client.get(f"/api/usage/?workspace={team.pk}").status_code == 401


def test_usage_without_a_workspace_is_a_clear_error(alice_api):
    response = alice_api.get("/api/usage/")

    assert response.status_code == 400
    assert response.json() == {"workspace": ["Name one: personal or a team's id."]}


def rendered(usage: quotas.Usage) -> str:
    # Spaces and line breaks of the template as one space; the no-break space of "1.1 GB" kept.
    return re.sub(r"[ \n]+", " ", render_to_string("transcription/_usage.html", {"usage": usage}))


def test_the_fragment_shows_usage_against_the_limits(alice, team):
    team.monthly_audio_hours, team.storage_gb = 10, 5
    RecordingFactory(team=team, owner=alice, duration_s=3.2 * 3600, size_bytes=int(1.1 * GB))

    html = rendered(quotas.usage(team))

    assert "3.2 h of 10 h this month" in html
    assert "1.1\xa0GB of 5 GB stored" in html
    assert '<meter min="0" max="10" value="3.2' in html
    assert f'<meter min="0" max="{5 * GB}" value="{int(1.1 * GB)}"' in html


def test_the_fragment_without_limits_shows_use_alone(alice):
    RecordingFactory(owner=alice, duration_s=1800, size_bytes=2048)

    html = rendered(quotas.usage(PERSONAL, alice))

    assert "0.5 h this month" in html
    assert "2.0\xa0KB stored" in html
    assert "<meter" not in html
