"""Hotwords: saved lists per user, merged into new jobs, said plainly where a model ignores them."""

import pytest

from accounts.models import Role
from accounts.services import membership_add, team_create
from tests.audio_files import speech
from tests.conftest import api_client_for
from tests.factories import UserFactory
from transcription.models import HotwordList, Job

pytestmark = pytest.mark.django_db

CLIP = speech("zh_funasr_asr_example.wav")


@pytest.fixture(autouse=True)
def isolated_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def upload(api, **fields) -> dict:
    with CLIP.open("rb") as handle:
        response = api.post("/api/recordings/", {"files": [handle], **fields}, format="multipart")
    assert response.status_code == 201, response.json()
    return response.json()["jobs"][0]


def test_active_saved_lists_join_the_jobs_own_hotwords(alice, alice_api):
    HotwordList.objects.create(owner=alice, name="team", words="达摩院\nFunASR")
    HotwordList.objects.create(owner=alice, name="old", words="Obsolete", active=False)

    job = upload(alice_api, hotwords="语音识别\nFunASR")

    assert job["hotwords"] == ["语音识别", "FunASR", "达摩院"]
    assert Job.objects.get(pk=job["id"]).hotword_list == ["语音识别", "FunASR", "达摩院"]


def test_another_users_lists_are_neither_visible_nor_applied(alice, bob, bob_api):
    saved = HotwordList.objects.create(owner=alice, name="secret", words="Kenobi")

    assert bob_api.get("/api/hotword-lists/").json()["results"] == []
    assert bob_api.get(f"/api/hotword-lists/{saved.pk}/").status_code == 404
    assert bob_api.delete(f"/api/hotword-lists/{saved.pk}/").status_code == 404
    assert upload(bob_api)["hotwords"] == []


def test_lists_are_created_renamed_switched_off_and_deleted(alice_api):
    created = alice_api.post(
        "/api/hotword-lists/", {"name": "names", "words": " Ada \n\nGrace\nAda"}, format="json"
    ).json()
    assert created["words"] == "Ada\nGrace"

    url = f"/api/hotword-lists/{created['id']}/"
    assert alice_api.patch(url, {"active": False}, format="json").json()["active"] is False
    assert alice_api.delete(url).status_code == 204
    assert not HotwordList.objects.exists()


@pytest.mark.parametrize("words", ["https://example.com/list.txt", "/etc/passwd", "x" * 101])
def test_a_list_of_non_words_is_refused(alice_api, words):
    response = alice_api.post("/api/hotword-lists/", {"name": "bad", "words": words}, format="json")

    assert response.status_code == 400
    assert "words" in response.json()


def test_duplicate_list_name_is_refused(alice, alice_api):
    HotwordList.objects.create(owner=alice, name="team", words="a")

    response = alice_api.post("/api/hotword-lists/", {"name": "team", "words": "b"}, format="json")

    assert response.status_code == 400
    assert "name" in response.json()


def test_a_model_that_ignores_hotwords_says_so(alice_api, settings):
    settings.ASR_ENABLED_MODELS = ["whisper-base", "sensevoice-small", "paraformer-zh"]

    ignored = upload(alice_api, model="sensevoice-small", hotwords="达摩院")
    hinted = upload(alice_api, model="whisper-base", hotwords="达摩院")
    native = upload(alice_api, model="paraformer-zh", hotwords="达摩院")
    without = upload(alice_api, model="sensevoice-small")

    assert "does not use hotwords" in ignored["hotwords_note"]
    assert "prompt hint" in hinted["hotwords_note"]
    assert native["hotwords_note"] == ""
    assert without["hotwords_note"] == ""
    options = alice_api.get("/api/options/").json()["model_hotwords"]
    assert options == {
        "whisper-base": "prompt",
        "sensevoice-small": None,
        "paraformer-zh": "native",
    }


@pytest.fixture
def team(alice, bob):
    """alice owns it, bob is a plain member."""
    team = team_create(creator=alice, name="Team")
    membership_add(team=team, user=bob, role=Role.MEMBER)
    return team


def test_a_teams_lists_join_the_jobs_of_its_recordings_only(alice, bob, bob_api, alice_api, team):
    created = alice_api.post(
        "/api/hotword-lists/", {"name": "product", "words": "Voxa", "team": team.pk}, format="json"
    )
    assert created.status_code == 201, created.json()
    HotwordList.objects.create(owner=bob, name="mine", words="Bob")

    in_team = upload(bob_api, hotwords="typed", team=team.pk)
    personal = upload(bob_api, hotwords="typed")

    assert in_team["hotwords"] == ["typed", "Bob", "Voxa"]
    assert personal["hotwords"] == ["typed", "Bob"]


def test_members_read_a_teams_lists_its_owners_and_admins_change_them(
    alice, bob_api, alice_api, team
):
    saved = HotwordList.objects.create(owner=alice, team=team, name="product", words="Voxa")
    url = f"/api/hotword-lists/{saved.pk}/"
    outsider = UserFactory(username="carol")
    outsider_api = api_client_for(outsider)

    assert [row["name"] for row in bob_api.get("/api/hotword-lists/").json()["results"]] == [
        "product"
    ]
    assert bob_api.patch(url, {"words": "Other"}, format="json").status_code == 403
    assert bob_api.delete(url).status_code == 403
    denied = bob_api.post(
        "/api/hotword-lists/", {"name": "more", "words": "x", "team": team.pk}, format="json"
    )
    assert denied.status_code == 403
    assert "owners and admins" in denied.json()["detail"]
    assert outsider_api.get(url).status_code == 404
    not_member = outsider_api.post(
        "/api/hotword-lists/", {"name": "x", "words": "x", "team": team.pk}, format="json"
    )
    assert not_member.status_code == 400
    assert alice_api.patch(url, {"words": "Voxa\nFunASR"}, format="json").status_code == 200
    assert alice_api.delete(url).status_code == 204


def test_a_team_list_name_is_unique_in_the_team_not_across_it(alice, alice_api, team):
    HotwordList.objects.create(owner=alice, name="product", words="Mine")
    fields = {"name": "product", "words": "Voxa", "team": team.pk}

    assert alice_api.post("/api/hotword-lists/", fields, format="json").status_code == 201
    again = alice_api.post("/api/hotword-lists/", fields, format="json")
    assert again.status_code == 400
    assert again.json()["name"] == ["The team already has a list with this name."]
