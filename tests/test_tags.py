"""Tags on recordings: set by those who may change the recording, one set per workspace, a
filter of the History, kept (as the team's) when a recording moves into a team."""

import pytest

from accounts.models import Role
from tests.factories import MembershipFactory, RecordingFactory, TeamFactory
from transcription.models import Tag

pytestmark = pytest.mark.django_db


def set_tags(api, recording, tags):
    return api.patch(f"/api/recordings/{recording.pk}/", {"tags": tags}, format="json")


def test_the_uploader_sets_tags_and_the_history_filters_by_them(alice, alice_api):
    tagged = RecordingFactory(owner=alice, name="tagged.wav")
    RecordingFactory(owner=alice, name="plain.wav")

    response = set_tags(alice_api, tagged, ["client  A", "2026", "2026"])

    assert response.status_code == 200, response.content
    assert response.json()["tags"] == ["2026", "client A"]
    found = alice_api.get("/api/recordings/", {"tag": "client A"}).json()["results"]
    assert [(r["name"], r["tags"]) for r in found] == [("tagged.wav", ["2026", "client A"])]
    assert set_tags(alice_api, tagged, []).json()["tags"] == []
    assert alice_api.get("/api/recordings/", {"tag": "client A"}).json()["results"] == []


def test_a_team_member_reads_tags_but_only_stewards_set_them(alice, alice_api, bob, bob_api):
    team = TeamFactory()
    MembershipFactory(team=team, user=alice, role=Role.ADMIN)
    MembershipFactory(team=team, user=bob, role=Role.MEMBER)
    recording = RecordingFactory(owner=alice, team=team)

    assert set_tags(bob_api, recording, ["mine"]).status_code == 403
    assert set_tags(alice_api, recording, ["urgent"]).status_code == 200
    assert bob_api.get(f"/api/recordings/{recording.pk}/").json()["tags"] == ["urgent"]
    assert Tag.objects.get(name="urgent").team == team


def test_tags_are_the_workspaces_own_and_follow_a_move_into_a_team(alice, alice_api, bob, bob_api):
    bobs = RecordingFactory(owner=bob)
    set_tags(bob_api, bobs, ["urgent"])
    mine = RecordingFactory(owner=alice)
    set_tags(alice_api, mine, ["urgent"])
    assert alice_api.get("/api/recordings/", {"tag": "urgent"}).json()["count"] == 1
    team = TeamFactory()
    MembershipFactory(team=team, user=alice, role=Role.MEMBER)

    moved = alice_api.patch(f"/api/recordings/{mine.pk}/", {"team": team.pk}, format="json")

    assert moved.status_code == 200, moved.content
    assert moved.json()["tags"] == ["urgent"]
    assert list(mine.tags.values_list("team", flat=True)) == [team.pk]


@pytest.mark.parametrize("tags", [["x" * 41], "urgent", [f"t{n}" for n in range(21)]])
def test_unusable_tags_are_a_400(alice, alice_api, tags):
    assert set_tags(alice_api, RecordingFactory(owner=alice), tags).status_code == 400
