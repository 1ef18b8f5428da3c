"""The active workspace: the header's switcher, and the pages that follow it and say where they
are; moving a personal recording into a team from its page."""

import re

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from accounts.models import Membership, Role
from accounts.services import membership_add, membership_remove, team_create
from tests.factories import MembershipFactory, RecordingFactory, SucceededJobFactory, TeamFactory
from transcription.workspaces import SESSION_KEY

pytestmark = pytest.mark.django_db


@pytest.fixture
def research(alice):
    return team_create(creator=alice, name="Research")


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


def switch(client, workspace: object, next_url: str = "/history/"):
    return client.post(reverse("switch-workspace"), {"workspace": workspace, "next": next_url})


def badge(response) -> str:
    return re.search(r'data-testid="workspace-badge">([^<]*)<', response.content.decode())[1]


def switcher_options(response) -> list[tuple[str, str, bool]]:
    """(value, text, selected) of each option of the header's switcher."""
    content = response.content.decode()
    select = re.search(r'<select id="workspace-switcher".*?</select>', content, flags=re.S)[0]
    return [
        (value, text.strip(), bool(selected))
        for value, selected, text in re.findall(
            r'<option value="([^"]*)"( selected)?>([^<]*)</option>', select
        )
    ]


def test_switching_to_a_team_goes_back_to_the_page_and_the_pages_say_so(alice_client, research):
    response = switch(alice_client, research.pk, next_url="/search/?q=x")

    assert response.status_code == 302
    assert response["Location"] == "/search/?q=x"
    assert alice_client.session[SESSION_KEY] == research.pk
    for url in (reverse("upload"), reverse("history"), reverse("search")):
        assert badge(alice_client.get(url)) == "Team: Research", url


def test_switching_back_to_personal(alice_client, research):
    switch(alice_client, research.pk)

    switch(alice_client, "personal")

    assert SESSION_KEY not in alice_client.session
    assert badge(alice_client.get(reverse("history"))) == "Personal"


def test_the_switcher_lists_the_personal_workspace_and_each_team_with_the_role(
    alice_client, alice, research
):
    other = TeamFactory(name="Sales")
    MembershipFactory(team=other, user=alice, role=Role.ADMIN)
    TeamFactory(name="Not hers")
    switch(alice_client, other.pk)

    options = switcher_options(alice_client.get(reverse("upload")))

    assert options == [
        ("personal", "Personal", False),
        (str(research.pk), "Team: Research (owner)", False),
        (str(other.pk), "Team: Sales (admin)", True),
    ]


def test_another_teams_id_is_refused_and_nothing_changes(alice_client, research, bob):
    bobs = team_create(creator=bob, name="Bob's")
    switch(alice_client, research.pk)

    for asked in (bobs.pk, "999999", "x", ""):
        assert switch(alice_client, asked).status_code == 404, asked

    assert alice_client.session[SESSION_KEY] == research.pk


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/history/", "", "javascript:alert(1)"]
)
def test_next_never_leads_to_another_site(alice_client, research, next_url):
    response = switch(alice_client, research.pk, next_url=next_url)

    assert response["Location"] == reverse("upload")


def test_a_team_left_gives_way_to_the_personal_workspace(alice_client, alice, bob, research):
    membership_add(team=research, user=bob, role=Role.OWNER)  # so that alice may leave
    SucceededJobFactory(recording__owner=bob, recording__team=research, segments=["Team plans."])
    SucceededJobFactory(recording__owner=alice, segments=["My plans."])
    switch(alice_client, research.pk)

    membership_remove(membership=Membership.objects.get(team=research, user=alice))
    response = alice_client.get(reverse("search"), {"q": "plans"})

    assert badge(response) == "Personal"
    assert [hit.text for hit in response.context["hits"]] == ["My plans."]
    assert SESSION_KEY not in alice_client.session
    assert switcher_options(response) == [("personal", "Personal", True)]
    # Joining again later does not switch back to the team by itself.
    membership_add(team=research, user=alice, role=Role.MEMBER)
    assert badge(alice_client.get(reverse("history"))) == "Personal"


def test_a_deleted_team_gives_way_to_the_personal_workspace(alice_client, research):
    switch(alice_client, research.pk)

    research.delete()

    assert badge(alice_client.get(reverse("upload"))) == "Personal"


def test_search_finds_only_the_active_workspaces_lines(alice_client, alice, research):
    SucceededJobFactory(recording__owner=alice, segments=["The needle at home."])
    SucceededJobFactory(recording__owner=alice, recording__team=research, segments=["A needle."])

    def found() -> list[str]:
        response = alice_client.get(reverse("search"), {"q": "needle"})
        return [hit.text for hit in response.context["hits"]]

    assert found() == ["The needle at home."]
    switch(alice_client, research.pk)
    assert found() == ["A needle."]


def test_history_page_asks_the_api_for_the_active_workspace(alice_client, research):
    def root() -> str:
        content = alice_client.get(reverse("history")).content.decode()
        return re.search(r'<div id="history"[^>]*>', content)[0]

    assert 'data-workspace="personal"' in root()
    assert 'data-team=""' in root()
    switch(alice_client, research.pk)
    assert f'data-workspace="{research.pk}"' in root()
    assert f'data-team="{research.pk}"' in root()


def test_the_history_api_lists_the_workspace_the_page_names(alice_api, alice, research):
    mine = RecordingFactory(owner=alice)
    teams = RecordingFactory(owner=alice, team=research)

    def listed(workspace: object) -> list[int]:
        response = alice_api.get("/api/recordings/", {"workspace": workspace})
        return [recording["id"] for recording in response.json()["results"]]

    assert listed("personal") == [mine.pk]
    assert listed(research.pk) == [teams.pk]


def test_upload_page_preselects_the_teams_defaults(alice_client, research):
    research.default_model = "sensevoice-small"
    research.default_language = "de"
    research.default_itn = False
    research.save()
    switch(alice_client, research.pk)

    content = alice_client.get(reverse("upload")).content.decode()

    form = re.search(r'<form id="upload-form"[^>]*>', content)[0]
    assert f'data-team="{research.pk}"' in form
    assert "Files go into the team Research;" in content
    assert 'data-default-model="sensevoice-small"' in form
    assert 'data-default-language="de"' in form
    assert re.search(r'<input type="checkbox" id="itn" name="itn" data-testid="itn">', content)
    assert re.search(
        r'data-testid="private">\s*<label for="private">Private \(only you and', content
    )


def test_upload_page_in_the_personal_workspace_has_the_sites_defaults_and_no_private_box(
    alice_client, research
):
    content = alice_client.get(reverse("upload")).content.decode()

    form = re.search(r'<form id="upload-form"[^>]*>', content)[0]
    assert 'data-team=""' in form
    assert "Files go into your personal workspace;" in content
    assert 'data-default-model=""' in form
    assert re.search(r'id="itn" name="itn" checked', content)
    assert 'data-testid="private"' not in content


def test_recording_page_says_which_workspace_it_lives_in(alice_client, alice, research):
    personal = RecordingFactory(owner=alice)
    shared = RecordingFactory(owner=alice, team=research, private=True)

    def workspace_line(recording) -> str:
        content = alice_client.get(reverse("recording", args=[recording.pk])).content.decode()
        line = re.search(r'data-testid="recording-workspace">(.*?)</p>', content, flags=re.S)[1]
        return re.sub(r"<[^>]+>|\s+", " ", line).split()

    assert workspace_line(personal) == ["In", "Personal"]
    assert workspace_line(shared)[:3] == ["In", "Team:", "Research"]
    assert "private:" in workspace_line(shared)


def move_form_shown(client, recording) -> bool:
    response = client.get(reverse("recording", args=[recording.pk]))
    return 'data-testid="move-to-team"' in response.content.decode()


def test_the_move_form_is_offered_to_the_uploader_of_a_personal_recording_only(
    client, alice, bob, research
):
    membership_add(team=research, user=bob, role=Role.ADMIN)
    personal = RecordingFactory(owner=alice)
    in_team = RecordingFactory(owner=alice, team=research)
    client.force_login(alice)

    assert move_form_shown(client, personal)
    assert not move_form_shown(client, in_team)
    client.force_login(bob)  # an admin of the team: steers its recordings, moves none
    assert not move_form_shown(client, in_team)


def test_no_move_form_without_a_team_to_move_to(alice_client, alice):
    assert not move_form_shown(alice_client, RecordingFactory(owner=alice))


def test_the_move_forms_choices_are_the_users_teams(alice_client, alice, research, bob):
    team_create(creator=bob, name="Bob's")
    recording = RecordingFactory(owner=alice)

    response = alice_client.get(reverse("recording", args=[recording.pk]))

    assert list(response.context["move_form"].fields["team"].queryset) == [research]


def move(client, recording, team, private: bool = False):
    data = {"team": team.pk}
    if private:
        data["private"] = "on"
    return client.post(reverse("recording-move", args=[recording.pk]), data)


def test_the_uploader_moves_a_personal_recording_into_their_team(alice_client, alice, research):
    recording = RecordingFactory(owner=alice, name="standup.wav")

    response = move(alice_client, recording, research, private=True)

    assert response.status_code == 302
    assert response["Location"] == reverse("recording", args=[recording.pk])
    recording.refresh_from_db()
    assert (recording.team, recording.private) == (research, True)
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "“standup.wav” moved to Team: Research."
    ]


def test_a_team_recording_is_not_moved_again(alice_client, alice, research, bob):
    other = TeamFactory()
    MembershipFactory(team=other, user=alice)
    recording = RecordingFactory(owner=alice, team=research)

    assert move(alice_client, recording, other).status_code == 403

    recording.refresh_from_db()
    assert recording.team == research


def test_only_the_uploader_moves_a_recording(client, alice, bob, research):
    membership_add(team=research, user=bob, role=Role.ADMIN)
    recording = RecordingFactory(owner=alice)  # personal: bob cannot even see it
    client.force_login(bob)

    assert move(client, recording, research).status_code == 404

    recording.refresh_from_db()
    assert recording.team is None


def test_a_recording_is_moved_only_into_a_team_of_the_uploaders(alice_client, alice, bob):
    bobs = team_create(creator=bob, name="Bob's")
    recording = RecordingFactory(owner=alice)

    response = move(alice_client, recording, bobs)

    assert response.status_code == 302
    recording.refresh_from_db()
    assert recording.team is None
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "You are not a member of that team."
    ]


def test_the_api_moves_by_the_same_rule(alice_api, alice, research):
    personal = RecordingFactory(owner=alice)
    in_team = RecordingFactory(owner=alice, team=research)

    def patch(recording):
        return alice_api.patch(
            f"/api/recordings/{recording.pk}/", {"team": research.pk}, format="json"
        )

    assert patch(personal).status_code == 200
    assert patch(in_team).status_code == 403
    personal.refresh_from_db()
    assert personal.team == research


def test_switching_needs_the_csrf_token(alice, research):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    assert switch(client, research.pk).status_code == 403

    assert SESSION_KEY not in client.session
