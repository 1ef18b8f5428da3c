"""The Hotwords page follows the active workspace: a team's lists, made and changed by its owners
and admins, read by its members, unknown to anyone else; and a job of the team's recordings gets
them. In a real browser too, on a phone and a desktop."""

import pytest
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import Role
from tests.audio_files import speech
from tests.conftest import (
    BROWSER_PASSWORD,
    SCREENS,
    api_client_for,
    log_in,
    open_page,
    screenshot,
    switch_to,
)
from tests.factories import MembershipFactory, TeamFactory
from tests.teams import Crew
from transcription.hotwords import LIST_STEWARDS_ONLY, hotwords_for_job
from transcription.models import HotwordList

CLIP = speech("zh_funasr_asr_example.wav")
FITS_ACROSS = "e => e.getBoundingClientRect().right <= document.documentElement.clientWidth"


def signed_in(user, team=None) -> Client:
    """A session of `user`, in `team`'s workspace if given (through the header's switcher)."""
    client = Client()
    client.force_login(user)
    if team is not None:
        switched = client.post(reverse("switch-workspace"), {"workspace": team.pk})
        assert switched.status_code == 302
    return client


def listed(client: Client) -> list[str]:
    return [saved.name for saved in client.get(reverse("hotwords")).context["lists"]]


@pytest.fixture
def lists(crew: Crew) -> dict[str, HotwordList]:
    return {
        "team": HotwordList.objects.create(
            owner=crew.owner, team=crew.team, name="product", words="Voxa"
        ),
        "own": HotwordList.objects.create(owner=crew.member, name="mine", words="Kenobi"),
        "elsewhere": HotwordList.objects.create(owner=crew.outsider, name="theirs", words="Yoda"),
    }


@pytest.mark.django_db
def test_the_page_lists_the_active_workspaces_lists(crew, lists):
    personal, in_team = signed_in(crew.member), signed_in(crew.member, crew.team)

    assert listed(personal) == ["mine"]
    assert listed(in_team) == ["product"]
    page = in_team.get(reverse("hotwords")).content.decode()
    assert "Team: Team — these lists are added to every job of the team's recordings" in page
    assert "No saved lists" not in page


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["owner", "admin"])
def test_a_manager_makes_switches_and_deletes_a_teams_list(crew, role):
    manager = getattr(crew, role)
    client = signed_in(manager, crew.team)
    page = client.get(reverse("hotwords")).content.decode()
    assert 'data-testid="hotword-form"' in page
    assert "manage them; you can read them" not in page

    fields = {"name": "product", "words": " Voxa \nFunASR", "active": "on"}
    created = client.post(reverse("hotwords"), fields)

    assert created.status_code == 302
    saved = HotwordList.objects.get()
    assert (saved.team, saved.owner) == (crew.team, manager)
    assert (saved.words, saved.active) == ("Voxa\nFunASR", True)
    assert listed(client) == ["product"]
    assert listed(signed_in(manager)) == []  # not one of their own
    client.post(reverse("hotword-list-toggle", args=[saved.pk]))
    saved.refresh_from_db()
    assert saved.active is False
    client.post(reverse("hotword-list-delete", args=[saved.pk]))
    assert not HotwordList.objects.exists()


@pytest.mark.django_db
def test_a_team_list_name_is_unique_in_the_team(crew, lists):
    client = signed_in(crew.admin, crew.team)

    clash = client.post(reverse("hotwords"), {"name": "product", "words": "Other"})
    mine = signed_in(crew.admin).post(reverse("hotwords"), {"name": "product", "words": "Mine"})

    assert clash.status_code == 200
    assert "The team already has a list with this name." in clash.content.decode()
    assert mine.status_code == 302  # the same name among their own lists is free
    assert HotwordList.objects.filter(name="product").count() == 2


@pytest.mark.django_db
def test_a_member_reads_the_teams_lists_and_changes_none(crew, lists):
    client = signed_in(crew.member, crew.team)
    saved = lists["team"]

    page = client.get(reverse("hotwords")).content.decode()
    toggled = client.post(reverse("hotword-list-toggle", args=[saved.pk]))
    deleted = client.post(reverse("hotword-list-delete", args=[saved.pk]))
    created = client.post(reverse("hotwords"), {"name": "more", "words": "x"})

    assert "Voxa" in page
    assert "The team's owners and admins manage them; you can read them." in page
    assert "<form" not in page.split("<main", 1)[-1].split("</main>", 1)[0]
    assert (toggled.status_code, deleted.status_code, created.status_code) == (403, 403, 403)
    saved.refresh_from_db()
    assert saved.active is True
    assert HotwordList.objects.filter(team=crew.team).count() == 1


@pytest.mark.django_db
def test_anyone_outside_the_team_finds_no_such_list(crew, lists):
    client = signed_in(crew.outsider)
    saved = lists["team"]

    assert client.post(reverse("hotword-list-toggle", args=[saved.pk])).status_code == 404
    assert client.post(reverse("hotword-list-delete", args=[saved.pk])).status_code == 404
    assert listed(client) == ["theirs"]
    # Nor does a teammate find another's own list.
    toggled = signed_in(crew.owner).post(reverse("hotword-list-toggle", args=[lists["own"].pk]))
    assert toggled.status_code == 404
    assert HotwordList.objects.count() == 3


@pytest.mark.django_db
def test_the_api_tells_a_member_the_same(crew, lists):
    url = f"/api/hotword-lists/{lists['team'].pk}/"

    refused = api_client_for(crew.member).patch(url, {"active": False}, format="json")

    assert refused.status_code == 403
    assert refused.json()["detail"] == LIST_STEWARDS_ONLY


@pytest.mark.django_db
def test_a_list_made_on_the_page_joins_every_job_of_the_teams_recordings(crew, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    made = signed_in(crew.admin, crew.team).post(
        reverse("hotwords"), {"name": "product", "words": "Voxa\nFunASR", "active": "on"}
    )
    assert made.status_code == 302
    member_api = api_client_for(crew.member)

    with CLIP.open("rb") as handle:
        fields = {"files": [handle], "team": crew.team.pk, "hotwords": "typed"}
        response = member_api.post("/api/recordings/", fields, format="multipart")

    assert response.status_code == 201, response.json()
    assert response.json()["jobs"][0]["hotwords"] == ["typed", "Voxa", "FunASR"]
    assert hotwords_for_job(owner=crew.member, team=crew.team, typed="") == "Voxa\nFunASR"
    assert hotwords_for_job(owner=crew.member, typed="") == ""  # not their personal jobs


def browser_user(django_user_model, username: str):
    return django_user_model.objects.create_user(username, password=BROWSER_PASSWORD)


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_team_lists_on_a_phone_and_a_desktop(
    portal_server, django_user_model, browser, tmp_path
):
    """A manager makes a team list through the form; a member then sees it without any."""
    rita, sami = browser_user(django_user_model, "rita"), browser_user(django_user_model, "sami")
    # Factories, not the services: those would notify sockets from Playwright's thread.
    team = TeamFactory(name="Research and Development")
    MembershipFactory(team=team, user=rita, role=Role.ADMIN)
    MembershipFactory(team=team, user=sami, role=Role.MEMBER)
    HotwordList.objects.create(owner=sami, name="sami's own", words="Sami")
    who = (("rita", "admin"), ("sami", "member"))
    for size_name, size in SCREENS.items():
        for username, role in who:
            with open_page(browser, viewport=size) as page:
                log_in(page, portal_server, username)
                page.get_by_test_id("nav-hotwords").click()
                switch_to(page, f"Team: Research and Development ({role})")
                expect(page.get_by_test_id("workspace-badge")).to_have_text(
                    "Team: Research and Development"
                )
                scope = page.get_by_test_id("hotwords-scope")
                expect(scope).to_contain_text("added to every job of the team's recordings")
                if role == "admin" and size_name == "phone":
                    page.fill("#id_name", "product names")
                    page.fill("#id_words", "Voxa\nFunASR\nParaformer\nSenseVoice")
                    page.get_by_test_id("hotword-save").click()
                rows = page.get_by_test_id("hotword-list")
                expect(rows).to_have_count(1)
                expect(rows).to_contain_text("Voxa, FunASR, Paraformer, SenseVoice")
                if role == "admin":
                    expect(page.get_by_test_id("hotword-form")).to_be_visible()
                    # The actions are within the page's width, none off to the side.
                    for action in ("hotword-toggle", "hotword-delete"):
                        button = page.get_by_test_id(action)
                        expect(button).to_be_visible()
                        assert button.evaluate(FITS_ACROSS), action
                else:
                    expect(scope).to_contain_text("owners and admins manage them")
                    expect(page.locator("main form")).to_have_count(0)
                table = page.get_by_test_id("hotword-lists")
                assert table.evaluate("t => t.scrollWidth <= t.clientWidth")
                screenshot(page, tmp_path, f"hotwords-{role}-{size_name}")
    saved = HotwordList.objects.get(team=team)
    assert saved.owner == rita
