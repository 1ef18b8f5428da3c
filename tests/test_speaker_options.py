"""Asking for speakers at upload: the API's fields and their checks, the workspace's default,
the team setting that gives it, and the pages that offer and show it."""

import re

import pytest
from django.urls import reverse

from accounts.services import team_create
from tests.audio_files import speech
from tests.conftest import api_client_for
from tests.factories import JobFactory
from tests.teams import team_with_every_role
from transcription.models import Job

CLIP = speech("en_librispeech_1995-1837-0001.wav")

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


@pytest.fixture(autouse=True)
def isolated_storage(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def upload(client, **fields):
    with CLIP.open("rb") as audio:
        return client.post("/api/recordings/", {"files": [audio], **fields}, format="multipart")


def speaker_options(response) -> tuple:
    assert response.status_code == 201, response.json()
    job = Job.objects.get(pk=response.json()["jobs"][0]["id"])
    return job.identify_speakers, job.num_speakers, job.min_speakers, job.max_speakers


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"num_speakers": "0"}, "num_speakers", "Say between 1 and 20 speakers."),
        ({"max_speakers": "21"}, "max_speakers", "Say between 1 and 20 speakers."),
        ({"num_speakers": "two"}, "num_speakers", "A valid integer is required."),
        (
            {"min_speakers": "5", "max_speakers": "3"},
            "min_speakers",
            "min_speakers (5) is more than max_speakers (3).",
        ),
        (
            {"num_speakers": "2", "min_speakers": "1"},
            "num_speakers",
            "Give the number of speakers or a range (min_speakers, max_speakers), not both.",
        ),
        (
            {"speakers": "false", "num_speakers": "2"},
            "speakers",
            "num_speakers asks for speakers to be identified: leave speakers out or set it to "
            "true.",
        ),
        ({"speakers": "perhaps"}, "speakers", "Must be a valid boolean."),
    ],
)
def test_speaker_options_that_do_not_fit_are_refused(alice_api, fields, field, message):
    response = upload(alice_api, **fields)

    assert response.status_code == 400
    assert response.json()[field] == [message]
    assert not Job.objects.exists()


def test_speaker_options_reach_the_job_and_its_api(alice_api):
    response = upload(alice_api, speakers="true", min_speakers="2", max_speakers="4")

    assert speaker_options(response) == (True, None, 2, 4)
    job = response.json()["jobs"][0]
    assert (job["identify_speakers"], job["min_speakers"], job["max_speakers"]) == (True, 2, 4)


def test_a_number_of_speakers_alone_asks_for_speakers(alice_api):
    assert speaker_options(upload(alice_api, num_speakers="3")) == (True, 3, None, None)


def test_speakers_default_to_the_workspaces_setting(alice, alice_api):
    talkative = team_create(creator=alice, name="Talks", default_identify_speakers=True)
    quiet = team_create(creator=alice, name="Quiet")

    assert speaker_options(upload(alice_api))[0] is False  # personal: off
    assert speaker_options(upload(alice_api, team=talkative.pk))[0] is True
    assert speaker_options(upload(alice_api, team=talkative.pk, speakers="false"))[0] is False
    assert speaker_options(upload(alice_api, team=quiet.pk))[0] is False
    assert speaker_options(upload(alice_api, team=quiet.pk, speakers="true"))[0] is True


def test_the_upload_page_preselects_the_teams_default(alice, client):
    team = team_create(creator=alice, name="Talks", default_identify_speakers=True)
    client.force_login(alice)

    personal = client.get(reverse("upload")).content.decode()
    client.post(reverse("switch-workspace"), {"workspace": team.pk, "next": "/"})
    in_team = client.get(reverse("upload")).content.decode()

    assert re.search(r'<input type="checkbox" id="speakers" name="speakers" data-testid', personal)
    assert re.search(r'id="speakers" name="speakers" checked', in_team)
    assert 'id="num-speakers" name="num_speakers"' in in_team


def test_team_managers_set_the_default_on_the_settings_page_and_in_the_api(client):
    crew = team_with_every_role()
    settings_url = reverse("team-settings", args=[crew.team.pk])
    form = {"name": "Team", "default_model": "", "default_language": "auto"}
    client.force_login(crew.admin)

    page = client.get(reverse("team", args=[crew.team.pk])).content.decode()
    client.post(settings_url, {**form, "default_identify_speakers": "on"})

    assert "Identify speakers by default" in page
    crew.team.refresh_from_db()
    assert crew.team.default_identify_speakers is True

    client.force_login(crew.member)
    client.post(settings_url, {**form, "default_identify_speakers": ""})
    crew.team.refresh_from_db()
    assert crew.team.default_identify_speakers is True

    api = api_client_for(crew.owner)
    response = api.patch(
        f"/api/teams/{crew.team.pk}/", {"default_identify_speakers": False}, format="json"
    )
    assert response.json()["default_identify_speakers"] is False


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"num_speakers": 2}, "Speakers: identified (2 expected)"),
        ({"min_speakers": 2, "max_speakers": 5}, "Speakers: identified (2 to 5 expected)"),
        ({"min_speakers": 3}, "Speakers: identified (at least 3)"),
        ({}, "Speakers: identified<"),
    ],
)
def test_the_recording_page_says_what_was_asked_about_speakers(alice, client, options, words):
    job = JobFactory(recording__owner=alice, identify_speakers=True, **options)
    plain = JobFactory(recording__owner=alice)
    client.force_login(alice)

    def page(of: Job) -> str:
        return client.get(reverse("recording", args=[of.recording_id])).content.decode()

    assert words in page(job)
    assert "Speakers:" not in page(plain)
