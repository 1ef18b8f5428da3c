"""The teams API: teams, members and roles, ownership, and the last-owner rule."""

import pytest

from accounts.models import Membership, Role, Team
from accounts.services import LAST_OWNER, membership_add
from tests.conftest import api_client_for
from tests.factories import RecordingFactory, UserFactory

pytestmark = pytest.mark.django_db


def api(user):
    return api_client_for(user)


def members_url(team, user=None) -> str:
    base = f"/api/teams/{team.pk}/members/"
    return base if user is None else f"{base}{user.pk}/"


# Teams


def test_list_shows_my_teams_with_my_role(crew):
    membership_add(team=Team.objects.get(name="Elsewhere"), user=crew.admin, role=Role.MEMBER)
    response = api(crew.admin).get("/api/teams/")
    assert response.status_code == 200
    assert [(t["name"], t["role"]) for t in response.json()["results"]] == [
        ("Elsewhere", "member"),
        ("Team", "admin"),
    ]
    assert api(UserFactory()).get("/api/teams/").json()["results"] == []


def test_create_makes_the_creator_owner(crew):
    response = api(crew.member).post(
        "/api/teams/", {"name": "  Research  ", "default_language": "en"}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "Research"
    assert body["role"] == "owner"
    assert body["default_language"] == "en"
    assert body["monthly_audio_hours"] is None
    team = Team.objects.get(pk=body["id"])
    assert Membership.objects.get(team=team).user == crew.member


def test_create_refuses_a_blank_name_in_drf_shape(crew):
    response = api(crew.member).post("/api/teams/", {"name": "   "}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["name"]


def test_members_read_the_team_outsiders_do_not(crew):
    url = f"/api/teams/{crew.team.pk}/"
    body = api(crew.member).get(url).json()
    assert body["id"] == crew.team.pk
    assert body["role"] == "member"
    assert api(crew.outsider).get(url).status_code == 404
    assert api(crew.outsider).get(members_url(crew.team)).status_code == 404
    assert api(crew.outsider).get(f"/api/teams/{crew.team.pk}/invitations/").status_code == 404
    assert api(crew.member).get("/api/teams/999999/members/").status_code == 404


def test_managers_change_settings_members_may_not(crew):
    url = f"/api/teams/{crew.team.pk}/"
    change = {
        "name": "Renamed",
        "default_language": "en",
        "default_itn": False,
        "audio_retention_days": 30,
    }
    refused = api(crew.member).patch(url, change, format="json")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Only the team's owners and admins can do this."
    response = api(crew.admin).patch(url, change, format="json")
    assert response.status_code == 200, response.json()
    crew.team.refresh_from_db()
    assert crew.team.name == "Renamed"
    assert crew.team.default_itn is False
    assert crew.team.audio_retention_days == 30
    assert response.json()["role"] == "admin"


def test_quotas_are_read_only(crew):
    url = f"/api/teams/{crew.team.pk}/"
    response = api(crew.owner).patch(
        url, {"monthly_audio_hours": 1000, "storage_gb": 1000}, format="json"
    )
    assert response.status_code == 200
    crew.team.refresh_from_db()
    assert crew.team.monthly_audio_hours is None
    assert crew.team.storage_gb is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"default_model": "no-such-model"}, "default_model"),
        ({"default_language": "xx"}, "default_language"),
        ({"audio_retention_days": 0}, "audio_retention_days"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_settings_are_400_by_field(crew, change, field):
    response = api(crew.owner).patch(f"/api/teams/{crew.team.pk}/", change, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_a_default_language_the_default_model_cannot_do_is_refused(crew, settings):
    settings.ASR_ENABLED_MODELS = ["whisper-base", "paraformer-zh"]
    response = api(crew.owner).patch(
        f"/api/teams/{crew.team.pk}/",
        {"default_model": "paraformer-zh", "default_language": "de"},
        format="json",
    )
    assert response.status_code == 400
    assert "default_language" in response.json()


def test_only_owners_delete_the_team_and_its_recordings_go(crew, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    recording = RecordingFactory(owner=crew.member, team=crew.team)
    url = f"/api/teams/{crew.team.pk}/"
    assert api(crew.admin).delete(url).status_code == 403
    assert api(crew.owner).delete(url).status_code == 204
    assert not Team.objects.filter(pk=crew.team.pk).exists()
    assert not type(recording).objects.filter(pk=recording.pk).exists()
    assert api(crew.member).get(url).status_code == 404


# Members and roles


def test_members_are_listed_owners_first(crew):
    response = api(crew.member).get(members_url(crew.team))
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(m["username"], m["role"]) for m in rows] == [
        ("owner", "owner"),
        ("admin", "admin"),
        ("member", "member"),
    ]
    assert rows[0]["user"] == crew.owner.pk
    assert rows[0]["email"] == "owner@example.com"
    one = api(crew.member).get(members_url(crew.team, crew.admin))
    assert one.json()["role"] == "admin"


def test_admin_promotes_a_member_to_admin_but_not_to_owner(crew):
    admin = api(crew.admin)
    url = members_url(crew.team, crew.member)
    refused = admin.patch(url, {"role": "owner"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Only the team's owners can make or demote owners."
    response = admin.patch(url, {"role": "admin"}, format="json")
    assert response.status_code == 200
    assert response.json()["role"] == "admin"
    assert crew.membership(crew.member).role == Role.ADMIN


def test_admin_cannot_demote_an_owner(crew):
    response = api(crew.admin).patch(
        members_url(crew.team, crew.owner), {"role": "member"}, format="json"
    )
    assert response.status_code == 403
    assert crew.membership(crew.owner).role == Role.OWNER


def test_member_cannot_change_roles(crew):
    response = api(crew.member).patch(
        members_url(crew.team, crew.member), {"role": "admin"}, format="json"
    )
    assert response.status_code == 403
    assert crew.membership(crew.member).role == Role.MEMBER


def test_a_role_must_be_one_of_the_three(crew):
    response = api(crew.owner).patch(
        members_url(crew.team, crew.member), {"role": "boss"}, format="json"
    )
    assert response.status_code == 400
    assert "role" in response.json()


def test_owner_makes_an_owner_and_then_may_step_down(crew):
    owner = api(crew.owner)
    assert (
        owner.patch(
            members_url(crew.team, crew.admin), {"role": "owner"}, format="json"
        ).status_code
        == 200
    )
    response = owner.patch(members_url(crew.team, crew.owner), {"role": "member"}, format="json")
    assert response.status_code == 200
    assert crew.membership(crew.owner).role == Role.MEMBER


def test_the_last_owner_cannot_be_demoted(crew):
    response = api(crew.owner).patch(
        members_url(crew.team, crew.owner), {"role": "admin"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["detail"] == LAST_OWNER
    assert crew.membership(crew.owner).role == Role.OWNER


def test_the_last_owner_cannot_leave(crew):
    response = api(crew.owner).delete(members_url(crew.team, crew.owner))
    assert response.status_code == 409
    assert response.json()["detail"] == LAST_OWNER
    assert crew.membership(crew.owner)


def test_the_last_owner_cannot_be_removed_by_another_owner_either(crew):
    # Two owners: one removes the other, then the remaining one is the last.
    membership_add(team=crew.team, user=crew.admin, role=Role.OWNER)
    assert api(crew.admin).delete(members_url(crew.team, crew.owner)).status_code == 204
    response = api(crew.admin).delete(members_url(crew.team, crew.admin))
    assert response.status_code == 409
    assert response.json()["detail"] == LAST_OWNER


def test_admin_cannot_remove_an_owner(crew):
    response = api(crew.admin).delete(members_url(crew.team, crew.owner))
    assert response.status_code == 403
    assert response.json()["detail"] == "Only the team's owners can remove an owner."


def test_member_cannot_remove_others(crew):
    response = api(crew.member).delete(members_url(crew.team, crew.admin))
    assert response.status_code == 403
    assert crew.membership(crew.admin)


def test_removal_takes_effect_at_once(crew, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    recording = RecordingFactory(owner=crew.member, team=crew.team)
    member = api(crew.member)
    assert member.get(f"/api/recordings/{recording.pk}/").status_code == 200
    assert api(crew.admin).delete(members_url(crew.team, crew.member)).status_code == 204
    # The same client, the same token, the very next request.
    assert member.get(f"/api/teams/{crew.team.pk}/").status_code == 404
    assert member.get(members_url(crew.team)).status_code == 404
    assert member.get(f"/api/recordings/{recording.pk}/").status_code == 404
    assert member.get("/api/teams/").json()["results"] == []


def test_a_member_leaves_by_removing_themselves(crew):
    member = api(crew.member)
    assert member.delete(members_url(crew.team, crew.member)).status_code == 204
    assert not Membership.objects.filter(team=crew.team, user=crew.member).exists()
    assert member.get(f"/api/teams/{crew.team.pk}/").status_code == 404


def test_unknown_member_is_404(crew):
    assert api(crew.owner).delete(members_url(crew.team, crew.outsider)).status_code == 404


# Ownership


def transfer(crew, by, to_id):
    return api(by).post(
        f"/api/teams/{crew.team.pk}/transfer-ownership/", {"user": to_id}, format="json"
    )


def test_owner_transfers_ownership_and_stays_as_admin(crew):
    response = transfer(crew, crew.owner, crew.member.pk)
    assert response.status_code == 200
    assert response.json()["role"] == "admin"
    assert crew.membership(crew.member).role == Role.OWNER
    assert crew.membership(crew.owner).role == Role.ADMIN


def test_only_owners_transfer_ownership(crew):
    response = transfer(crew, crew.admin, crew.admin.pk)
    assert response.status_code == 403
    assert response.json()["detail"] == "Only the team's owners can do this."
    assert crew.membership(crew.admin).role == Role.ADMIN


def test_transfer_to_yourself_or_to_a_stranger_is_refused(crew):
    assert transfer(crew, crew.owner, crew.owner.pk).status_code == 409
    stranger = transfer(crew, crew.owner, crew.outsider.pk)
    assert stranger.status_code == 400
    assert "user" in stranger.json()
    assert crew.membership(crew.owner).role == Role.OWNER
