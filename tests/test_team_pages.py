"""The team pages: the list, a team's page for each role, its forms, and sign-up."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from accounts.models import Membership, Role, Team
from accounts.services import LAST_OWNER, membership_add
from tests.factories import RecordingFactory
from tests.teams import issue

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-enough-passphrase-9"


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def team_url(crew, tail: str = "") -> str:
    return f"/teams/{crew.team.pk}/{tail}"


def text(response) -> str:
    return response.content.decode().replace("&#x27;", "'")


# The list


def test_the_list_shows_my_teams_with_my_role_and_a_create_form(crew):
    membership_add(team=Team.objects.get(name="Elsewhere"), user=crew.admin, role=Role.MEMBER)
    response = logged_in(crew.admin).get("/teams/")
    assert response.status_code == 200
    content = text(response)
    rows = re.findall(
        r'href="/teams/(\d+)/" class="team-name">([^<]+)</a>\s*<span class="role role-(\w+)"',
        content,
    )
    assert [(name, role) for _, name, role in rows] == [("Elsewhere", "member"), ("Team", "admin")]
    assert 'data-testid="team-create"' in content
    assert 'aria-current="page">Teams<' in content


def test_no_teams_yet(crew):
    response = logged_in(get_user_model().objects.create_user("loner")).get("/teams/")
    assert b'data-testid="no-teams"' in response.content


def test_creating_a_team_makes_me_its_owner(crew):
    client = logged_in(crew.member)
    response = client.post("/teams/", {"name": "Lab"})
    team = Team.objects.get(name="Lab")
    assert response.status_code == 302
    assert response["Location"] == f"/teams/{team.pk}/"
    assert Membership.objects.get(team=team).role == Role.OWNER
    page = client.get(response["Location"])
    assert "Team Lab created: you are its owner." in text(page)


def test_a_blank_name_is_shown_as_an_error(crew):
    response = logged_in(crew.member).post("/teams/", {"name": ""})
    assert response.status_code == 200
    assert response.context["form"].errors["name"]


# A team's page, by role


def test_every_member_sees_the_teams_usage_this_month(crew):
    Team.objects.filter(pk=crew.team.pk).update(monthly_audio_hours=10, storage_gb=5)
    RecordingFactory(owner=crew.member, team=crew.team, duration_s=2 * 3600, size_bytes=2**30)
    RecordingFactory(owner=crew.member, duration_s=3600, size_bytes=10**9)  # personal: not counted

    content = text(logged_in(crew.member).get(team_url(crew)))

    usage = re.search(r'data-testid="usage">(.*?)</p>', content, re.S).group(1)
    assert re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", usage)).strip() == (
        "2.0 h of 10 h this month · 1.0 GB of 5 GB stored"
    )
    assert "10 hours of audio a month, 5 GB of storage" in content


def test_a_member_sees_members_and_a_leave_button_only(crew):
    response = logged_in(crew.member).get(team_url(crew))
    assert response.status_code == 200
    content = text(response)
    members = re.findall(r'data-testid="member" data-username="(\w+)"', content)
    assert members == ["owner", "admin", "member"]
    assert "member@example.com" in content
    assert 'data-testid="leave-team"' in content
    for manager_only in ("invite-form", "settings-form", "role-form", "remove-member",
                         "transfer-form", "delete-form", "invitations"):  # fmt: skip
        assert f'data-testid="{manager_only}"' not in content, manager_only


def test_an_admin_manages_members_but_not_owners(crew):
    issue(crew.team, "pending@example.com")
    response = logged_in(crew.admin).get(team_url(crew))
    content = text(response)
    assert 'data-testid="invite-form"' in content
    assert 'data-testid="settings-form"' in content
    assert "pending@example.com" in content
    assert f'action="{team_url(crew, f"members/{crew.member.pk}/role/")}"' in content
    assert f'action="{team_url(crew, f"members/{crew.member.pk}/remove/")}"' in content
    # No controls on the owner's row, nor on their own.
    assert f"members/{crew.owner.pk}/role/" not in content
    assert f"members/{crew.admin.pk}/remove/" not in content
    assert '<option value="owner"' not in content
    assert 'data-testid="transfer-form"' not in content
    assert 'data-testid="delete-form"' not in content


def test_an_owner_also_transfers_and_deletes(crew):
    content = text(logged_in(crew.owner).get(team_url(crew)))
    assert 'data-testid="transfer-form"' in content
    assert 'data-testid="delete-form"' in content
    assert f"members/{crew.admin.pk}/role/" in content
    # Alone among owners: leaving is off, and says why.
    assert 'data-testid="sole-owner"' in content
    assert re.search(r'data-testid="leave-team" disabled', content)


def test_an_outsider_gets_404_everywhere(crew):
    client = logged_in(crew.outsider)
    assert client.get(team_url(crew)).status_code == 404
    member = f"members/{crew.member.pk}"
    for tail in ("settings/", "delete/", "leave/", "transfer/", "invitations/",
                 f"{member}/role/", f"{member}/remove/"):  # fmt: skip
        assert client.post(team_url(crew, tail), {"role": "admin"}).status_code == 404, tail


def test_every_form_posts_with_a_csrf_token(crew):
    content = text(logged_in(crew.owner).get(team_url(crew)))
    forms = re.findall(r"<form\b[^>]*>.*?</form>", content, flags=re.S)
    assert len(forms) >= 8
    for form in forms:
        if "logout" in form:
            continue
        assert 'method="post"' in form
        assert 'name="csrfmiddlewaretoken"' in form


def test_posts_need_the_csrf_token(crew):
    client = Client(enforce_csrf_checks=True)
    client.force_login(crew.member)
    assert client.post(team_url(crew, "leave/")).status_code == 403
    assert crew.membership(crew.member)


def test_team_pages_have_no_inline_script_or_style(crew):
    _, token = issue(crew.team, "someone@example.com")
    pages = [
        logged_in(crew.owner).get("/teams/"),
        logged_in(crew.owner).get(team_url(crew)),
        Client().get(f"/invitations/{token}/"),
        logged_in(crew.outsider).get(f"/invitations/{token}/"),
    ]
    for page in pages:
        content = page.content.decode()
        for script in re.findall(r"<script\b[^>]*>(.*?)</script>", content, flags=re.S):
            assert script.strip() == ""
        assert "<style" not in content
        assert not re.search(r"\sstyle\s*=", content)
        assert not re.search(r"\son[a-z]+\s*=", content)


# Members and roles


def test_changing_a_role(crew):
    response = logged_in(crew.admin).post(
        team_url(crew, f"members/{crew.member.pk}/role/"), {"role": "admin"}, follow=True
    )
    assert response.redirect_chain[-1][0] == team_url(crew)
    assert "member is now admin." in text(response)
    assert crew.membership(crew.member).role == Role.ADMIN


def test_a_member_cannot_change_roles_and_is_told(crew):
    response = logged_in(crew.member).post(
        team_url(crew, f"members/{crew.member.pk}/role/"), {"role": "admin"}
    )
    assert response.status_code == 403
    assert "Only the team's owners and admins can do this." in text(response)
    assert crew.membership(crew.member).role == Role.MEMBER


def test_the_last_owner_cannot_be_demoted_on_the_page(crew):
    response = logged_in(crew.owner).post(
        team_url(crew, f"members/{crew.owner.pk}/role/"), {"role": "member"}
    )
    assert response.status_code == 409
    assert LAST_OWNER in text(response)
    assert crew.membership(crew.owner).role == Role.OWNER


def test_removing_a_member(crew, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    recording = RecordingFactory(owner=crew.member, team=crew.team)
    removed = logged_in(crew.member)
    assert removed.get(f"/recordings/{recording.pk}/").status_code == 200
    response = logged_in(crew.admin).post(
        team_url(crew, f"members/{crew.member.pk}/remove/"), follow=True
    )
    assert "member was removed from the team." in text(response)
    assert not Membership.objects.filter(team=crew.team, user=crew.member).exists()
    # At once: the team's page and its recordings are gone for them.
    assert removed.get(team_url(crew)).status_code == 404
    assert removed.get(f"/recordings/{recording.pk}/").status_code == 404


def test_an_admin_cannot_remove_the_owner(crew):
    response = logged_in(crew.admin).post(team_url(crew, f"members/{crew.owner.pk}/remove/"))
    assert response.status_code == 403
    assert "Only the team's owners can remove an owner." in text(response)


def test_leaving(crew):
    client = logged_in(crew.member)
    response = client.post(team_url(crew, "leave/"), follow=True)
    assert response.redirect_chain[-1][0] == "/teams/"
    assert "You left the team Team." in text(response)
    assert client.get(team_url(crew)).status_code == 404


def test_removing_yourself_is_leaving(crew):
    response = logged_in(crew.admin).post(team_url(crew, f"members/{crew.admin.pk}/remove/"))
    assert response.status_code == 302
    assert response["Location"] == "/teams/"
    assert not Membership.objects.filter(team=crew.team, user=crew.admin).exists()


def test_the_last_owner_cannot_leave(crew):
    response = logged_in(crew.owner).post(team_url(crew, "leave/"))
    assert response.status_code == 409
    assert LAST_OWNER in text(response)
    assert crew.membership(crew.owner)


def test_transferring_ownership(crew):
    response = logged_in(crew.owner).post(
        team_url(crew, "transfer/"), {"membership": crew.membership(crew.member).pk}
    )
    assert response.status_code == 302
    assert crew.membership(crew.member).role == Role.OWNER
    assert crew.membership(crew.owner).role == Role.ADMIN
    # Now an admin, the former owner may leave.
    assert logged_in(crew.owner).post(team_url(crew, "leave/")).status_code == 302


def test_transfer_only_to_a_member(crew):
    outsider = Membership.objects.get(user=crew.outsider)
    response = logged_in(crew.owner).post(team_url(crew, "transfer/"), {"membership": outsider.pk})
    assert response.status_code == 200
    assert response.context["transfer_form"].errors["membership"]
    assert crew.membership(crew.owner).role == Role.OWNER


# Settings and deletion


def test_saving_settings(crew):
    response = logged_in(crew.admin).post(
        team_url(crew, "settings/"),
        {
            "name": "Renamed",
            "default_model": "",
            "default_language": "en",
            "audio_retention_days": "90",
        },
        follow=True,
    )
    assert "Settings saved." in text(response)
    crew.team.refresh_from_db()
    assert (crew.team.name, crew.team.default_language) == ("Renamed", "en")
    assert crew.team.default_itn is False  # an unticked box
    assert crew.team.audio_retention_days == 90


def test_invalid_settings_show_errors_and_change_nothing(crew):
    response = logged_in(crew.owner).post(
        team_url(crew, "settings/"),
        {"name": "Renamed", "default_language": "en", "audio_retention_days": "0"},
    )
    assert response.status_code == 200
    assert response.context["settings_form"].errors["audio_retention_days"]
    assert 'data-testid="team-name">Team<' in text(response)
    crew.team.refresh_from_db()
    assert crew.team.name == "Team"


def test_a_member_cannot_change_settings(crew):
    response = logged_in(crew.member).post(
        team_url(crew, "settings/"), {"name": "Mine", "default_language": "auto"}
    )
    assert response.status_code == 403
    crew.team.refresh_from_db()
    assert crew.team.name == "Team"


def test_deleting_needs_the_box_ticked_and_an_owner(crew):
    owner = logged_in(crew.owner)
    unconfirmed = owner.post(team_url(crew, "delete/"))
    assert unconfirmed.status_code == 200
    assert unconfirmed.context["delete_form"].errors["confirm"]
    assert (
        logged_in(crew.admin).post(team_url(crew, "delete/"), {"confirm": "on"}).status_code == 403
    )
    response = owner.post(team_url(crew, "delete/"), {"confirm": "on"}, follow=True)
    assert response.redirect_chain[-1][0] == "/teams/"
    assert "Team Team deleted." in text(response)
    assert not Team.objects.filter(pk=crew.team.pk).exists()


# Navigation


def test_the_nav_links_to_teams_right_after_hotwords(crew):
    content = text(logged_in(crew.member).get(team_url(crew)))
    nav = re.search(r'<nav class="nav".*?</nav>', content, flags=re.S).group(0)
    links = re.findall(r'data-testid="nav-(\w+)"', nav)
    assert links == ["upload", "history", "search", "hotwords", "teams"]
    assert 'data-testid="nav-teams" aria-current="page"' in nav
    other = text(logged_in(crew.member).get(reverse("hotwords")))
    assert 'data-testid="nav-teams" aria-current' not in other


def test_anonymous_visitors_go_to_the_login_page(crew, client):
    for url in ("/teams/", team_url(crew)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"/accounts/login/?next={url}"


# Sign-up


def test_signup_is_off_by_default(client, settings):
    assert settings.ALLOW_SIGNUP is False
    assert client.get("/accounts/signup/").status_code == 404
    assert client.post("/accounts/signup/", {"username": "x"}).status_code == 404
    assert b'data-testid="signup"' not in client.get("/accounts/login/").content


def test_signup_when_on(client, settings):
    settings.ALLOW_SIGNUP = True
    assert b'data-testid="signup"' in client.get("/accounts/login/").content
    page = client.get("/accounts/signup/")
    assert page.status_code == 200
    assert b'name="email"' in page.content
    response = client.post(
        "/accounts/signup/",
        {
            "username": "fresh",
            "email": "fresh@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("upload")
    user = get_user_model().objects.get(username="fresh")
    assert user.email == "fresh@example.com"
    assert client.get("/teams/").status_code == 200  # logged in
    assert client.get("/accounts/signup/").status_code == 302  # nothing more to sign up for


def test_signup_refuses_weak_passwords_and_taken_addresses(client, settings, crew):
    settings.ALLOW_SIGNUP = True
    weak = client.post(
        "/accounts/signup/",
        {
            "username": "fresh",
            "email": "fresh@example.com",
            "password1": "123",
            "password2": "123",
        },
    )
    assert weak.status_code == 200
    assert weak.context["form"].errors["password2"]
    taken = client.post(
        "/accounts/signup/",
        {
            "username": "fresh",
            "email": "MEMBER@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert taken.context["form"].errors["email"]
    assert not get_user_model().objects.filter(username="fresh").exists()
