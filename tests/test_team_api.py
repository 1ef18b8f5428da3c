"""The teams API: teams, members and roles, ownership, and the last-owner rule."""

import pytest

from accounts.models import Membership, Role, Team
from accounts.services import LAST_OWNER, membership_add
from tests.conftest import api_client_for
from tests.factories import RecordingFactory, UserFactory
from tests.teams import crew

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world():
    return crew()


def api(user):
    return api_client_for(user)


def members_url(team, user=None) -> str:
    base = f"/api/teams/{team.pk}/members/"
    return base if user is None else f"{base}{user.pk}/"


# Teams


def test_list_shows_my_teams_with_my_role(world):
    membership_add(team=Team.objects.get(name="Elsewhere"), user=world.admin, role=Role.MEMBER)
    response = api(world.admin).get("/api/teams/")
    assert response.status_code == 200
    assert [(t["name"], t["role"]) for t in response.json()["results"]] == [
        ("Elsewhere", "member"),
        ("Team", "admin"),
    ]
    assert api(UserFactory()).get("/api/teams/").json()["results"] == []


def test_create_makes_the_creator_owner(world):
    response = api(world.member).post(
        "/api/teams/", {"name": "  Research  ", "default_language": "en"}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "Research"
    assert body["role"] == "owner"
    assert body["default_language"] == "en"
    assert body["monthly_audio_hours"] is None
    team = Team.objects.get(pk=body["id"])
    assert Membership.objects.get(team=team).user == world.member


def test_create_refuses_a_blank_name_in_drf_shape(world):
    response = api(world.member).post("/api/teams/", {"name": "   "}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["name"]


def test_members_read_the_team_outsiders_do_not(world):
    url = f"/api/teams/{world.team.pk}/"
    body = api(world.member).get(url).json()
    assert body["id"] == world.team.pk
    assert body["role"] == "member"
    assert api(world.outsider).get(url).status_code == 404
    assert api(world.outsider).get(members_url(world.team)).status_code == 404
    assert api(world.outsider).get(f"/api/teams/{world.team.pk}/invitations/").status_code == 404
    assert api(world.member).get("/api/teams/999999/members/").status_code == 404


def test_managers_change_settings_members_may_not(world):
    url = f"/api/teams/{world.team.pk}/"
    change = {
        "name": "Renamed",
        "default_language": "en",
        "default_itn": False,
        "audio_retention_days": 30,
    }
    refused = api(world.member).patch(url, change, format="json")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Only the team's owners and admins can do this."
    response = api(world.admin).patch(url, change, format="json")
    assert response.status_code == 200, response.json()
    world.team.refresh_from_db()
    assert world.team.name == "Renamed"
    assert world.team.default_itn is False
    assert world.team.audio_retention_days == 30
    assert response.json()["role"] == "admin"


def test_quotas_are_read_only(world):
    url = f"/api/teams/{world.team.pk}/"
    response = api(world.owner).patch(
        url, {"monthly_audio_hours": 1000, "storage_gb": 1000}, format="json"
    )
    assert response.status_code == 200
    world.team.refresh_from_db()
    assert world.team.monthly_audio_hours is None
    assert world.team.storage_gb is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"default_model": "no-such-model"}, "default_model"),
        ({"default_language": "xx"}, "default_language"),
        ({"audio_retention_days": 0}, "audio_retention_days"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_settings_are_400_by_field(world, change, field):
    response = api(world.owner).patch(f"/api/teams/{world.team.pk}/", change, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_a_default_language_the_default_model_cannot_do_is_refused(world, settings):
    settings.ASR_ENABLED_MODELS = ["whisper-base", "paraformer-zh"]
    response = api(world.owner).patch(
        f"/api/teams/{world.team.pk}/",
        {"default_model": "paraformer-zh", "default_language": "de"},
        format="json",
    )
    assert response.status_code == 400
    assert "default_language" in response.json()


def test_only_owners_delete_the_team_and_its_recordings_go(world, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    recording = RecordingFactory(owner=world.member, team=world.team)
    url = f"/api/teams/{world.team.pk}/"
    assert api(world.admin).delete(url).status_code == 403
    assert api(world.owner).delete(url).status_code == 204
    assert not Team.objects.filter(pk=world.team.pk).exists()
    assert not type(recording).objects.filter(pk=recording.pk).exists()
    assert api(world.member).get(url).status_code == 404


# Members and roles


def test_members_are_listed_owners_first(world):
    response = api(world.member).get(members_url(world.team))
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(m["username"], m["role"]) for m in rows] == [
        ("owner", "owner"),
        ("admin", "admin"),
        ("member", "member"),
    ]
    assert rows[0]["user"] == world.owner.pk
    assert rows[0]["email"] == "owner@example.com"
    one = api(world.member).get(members_url(world.team, world.admin))
    assert one.json()["role"] == "admin"


def test_admin_promotes_a_member_to_admin_but_not_to_owner(world):
    admin = api(world.admin)
    url = members_url(world.team, world.member)
    refused = admin.patch(url, {"role": "owner"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Only the team's owners can make or demote owners."
    response = admin.patch(url, {"role": "admin"}, format="json")
    assert response.status_code == 200
    assert response.json()["role"] == "admin"
    assert world.membership(world.member).role == Role.ADMIN


def test_admin_cannot_demote_an_owner(world):
    response = api(world.admin).patch(
        members_url(world.team, world.owner), {"role": "member"}, format="json"
    )
    assert response.status_code == 403
    assert world.membership(world.owner).role == Role.OWNER


def test_member_cannot_change_roles(world):
    response = api(world.member).patch(
        members_url(world.team, world.member), {"role": "admin"}, format="json"
    )
    assert response.status_code == 403
    assert world.membership(world.member).role == Role.MEMBER


def test_a_role_must_be_one_of_the_three(world):
    response = api(world.owner).patch(
        members_url(world.team, world.member), {"role": "boss"}, format="json"
    )
    assert response.status_code == 400
    assert "role" in response.json()


def test_owner_makes_an_owner_and_then_may_step_down(world):
    owner = api(world.owner)
    assert (
        owner.patch(
            members_url(world.team, world.admin), {"role": "owner"}, format="json"
        ).status_code
        == 200
    )
    response = owner.patch(members_url(world.team, world.owner), {"role": "member"}, format="json")
    assert response.status_code == 200
    assert world.membership(world.owner).role == Role.MEMBER


def test_the_last_owner_cannot_be_demoted(world):
    response = api(world.owner).patch(
        members_url(world.team, world.owner), {"role": "admin"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["detail"] == LAST_OWNER
    assert world.membership(world.owner).role == Role.OWNER


def test_the_last_owner_cannot_leave(world):
    response = api(world.owner).delete(members_url(world.team, world.owner))
    assert response.status_code == 409
    assert response.json()["detail"] == LAST_OWNER
    assert world.membership(world.owner)


def test_the_last_owner_cannot_be_removed_by_another_owner_either(world):
    # Two owners: one removes the other, then the remaining one is the last.
    membership_add(team=world.team, user=world.admin, role=Role.OWNER)
    assert api(world.admin).delete(members_url(world.team, world.owner)).status_code == 204
    response = api(world.admin).delete(members_url(world.team, world.admin))
    assert response.status_code == 409
    assert response.json()["detail"] == LAST_OWNER


def test_admin_cannot_remove_an_owner(world):
    response = api(world.admin).delete(members_url(world.team, world.owner))
    assert response.status_code == 403
    assert response.json()["detail"] == "Only the team's owners can remove an owner."


def test_member_cannot_remove_others(world):
    response = api(world.member).delete(members_url(world.team, world.admin))
    assert response.status_code == 403
    assert world.membership(world.admin)


def test_removal_takes_effect_at_once(world, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    recording = RecordingFactory(owner=world.member, team=world.team)
    member = api(world.member)
    assert member.get(f"/api/recordings/{recording.pk}/").status_code == 200
    assert api(world.admin).delete(members_url(world.team, world.member)).status_code == 204
    # The same client, the same token, the very next request.
    assert member.get(f"/api/teams/{world.team.pk}/").status_code == 404
    assert member.get(members_url(world.team)).status_code == 404
    assert member.get(f"/api/recordings/{recording.pk}/").status_code == 404
    assert member.get("/api/teams/").json()["results"] == []


def test_a_member_leaves_by_removing_themselves(world):
    member = api(world.member)
    assert member.delete(members_url(world.team, world.member)).status_code == 204
    assert not Membership.objects.filter(team=world.team, user=world.member).exists()
    assert member.get(f"/api/teams/{world.team.pk}/").status_code == 404


def test_unknown_member_is_404(world):
    assert api(world.owner).delete(members_url(world.team, world.outsider)).status_code == 404


# Ownership


def transfer(world, by, to_id):
    return api(by).post(
        f"/api/teams/{world.team.pk}/transfer-ownership/", {"user": to_id}, format="json"
    )


def test_owner_transfers_ownership_and_stays_as_admin(world):
    response = transfer(world, world.owner, world.member.pk)
    assert response.status_code == 200
    assert response.json()["role"] == "admin"
    assert world.membership(world.member).role == Role.OWNER
    assert world.membership(world.owner).role == Role.ADMIN


def test_only_owners_transfer_ownership(world):
    response = transfer(world, world.admin, world.admin.pk)
    assert response.status_code == 403
    assert response.json()["detail"] == "Only the team's owners can do this."
    assert world.membership(world.admin).role == Role.ADMIN


def test_transfer_to_yourself_or_to_a_stranger_is_refused(world):
    assert transfer(world, world.owner, world.owner.pk).status_code == 409
    stranger = transfer(world, world.owner, world.outsider.pk)
    assert stranger.status_code == 400
    assert "user" in stranger.json()
    assert world.membership(world.owner).role == Role.OWNER
