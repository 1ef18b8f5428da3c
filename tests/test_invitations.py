"""Invitations: sent by e-mail with a one-time link, accepted by an existing user or by a new
account, refused when expired, used, meant for another address, or revoked."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Invitation, Membership, Role, hash_token
from accounts.services import (
    INVITATION_EXPIRED,
    INVITATION_NOT_SENT,
    INVITATION_OTHER_ADDRESS,
    INVITATION_USED,
    InvitationGone,
    invitation_accept,
)
from tests.conftest import api_client_for
from tests.factories import UserFactory
from tests.teams import issue, sent_link

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a-long-enough-passphrase-9"


class RefusingBackend(BaseEmailBackend):
    """An SMTP server that does not answer."""

    def send_messages(self, messages):
        raise ConnectionRefusedError(111, "Connection refused")


def invite(crew, email="new.person@example.com", role="member", by=None):
    return api_client_for(by or crew.admin).post(
        f"/api/teams/{crew.team.pk}/invitations/", {"email": email, "role": role}, format="json"
    )


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# Sending


def test_invitation_is_e_mailed_with_a_working_link(crew, client):
    response = invite(crew, role="admin")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["email"] == "new.person@example.com"
    assert body["role"] == "admin"
    assert body["invited_by"] == "admin"
    assert "token" not in body

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new.person@example.com"]
    assert "Team" in message.subject
    link, token = sent_link()
    assert link.startswith("http://testserver/invitations/")
    assert token not in str(body)
    # Only its hash is kept.
    invitation = Invitation.objects.get(pk=body["id"])
    assert invitation.token_hash == hash_token(token)

    page = client.get(link.removeprefix("http://testserver"))
    assert page.status_code == 200
    assert b"Join Team" in page.content
    assert b"as <strong>admin</strong>" in page.content


def test_the_link_is_under_public_url_when_set(crew, settings):
    settings.PUBLIC_URL = "https://voxa.example.com/"
    assert invite(crew).status_code == 201
    link, _ = sent_link()
    assert link.startswith("https://voxa.example.com/invitations/")


def test_a_mail_failure_keeps_nothing_and_says_so(crew, settings):
    settings.EMAIL_BACKEND = "tests.test_invitations.RefusingBackend"
    response = invite(crew)
    assert response.status_code == 503
    assert response.json()["detail"] == INVITATION_NOT_SENT
    assert not Invitation.objects.exists()


def test_a_mail_failure_on_the_page_says_so(crew, settings):
    settings.EMAIL_BACKEND = "tests.test_invitations.RefusingBackend"
    response = logged_in(crew.owner).post(
        f"/teams/{crew.team.pk}/invitations/", {"email": "x@example.com", "role": "member"}
    )
    assert response.status_code == 503
    assert INVITATION_NOT_SENT in response.content.decode().replace("&#x27;", "'")
    assert not Invitation.objects.exists()


def test_members_cannot_invite_outsiders_do_not_see_the_team(crew):
    assert invite(crew, by=crew.member).status_code == 403
    assert invite(crew, by=crew.outsider).status_code == 404
    assert not mail.outbox


def test_only_owners_invite_owners(crew):
    refused = invite(crew, role="owner", by=crew.admin)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Only the team's owners can invite owners."
    assert invite(crew, role="owner", by=crew.owner).status_code == 201


def test_invalid_invitations_are_400_by_field(crew):
    assert "email" in invite(crew, email="not-an-address").json()
    assert "role" in invite(crew, role="boss").json()
    taken = invite(crew, email="MEMBER@example.com")
    assert taken.status_code == 400
    assert "email" in taken.json()
    assert not mail.outbox


def test_inviting_again_replaces_the_pending_invitation(crew):
    invite(crew)
    _, first = sent_link()
    invite(crew, email="New.Person@example.com")
    _, second = sent_link()
    assert Invitation.objects.count() == 1
    assert Invitation.objects.get().token_hash == hash_token(second)
    assert Client().get(f"/invitations/{first}/").status_code == 404


def test_managers_list_pending_invitations_only(crew):
    issue(crew.team, "pending@example.com")
    expired, _ = issue(crew.team, "expired@example.com")
    expired.expires_at = timezone.now() - timedelta(minutes=1)
    expired.save()
    _, token = issue(crew.team, crew.outsider.email)
    invitation_accept(token=token, user=crew.outsider)
    url = f"/api/teams/{crew.team.pk}/invitations/"
    rows = api_client_for(crew.admin).get(url).json()["results"]
    assert [row["email"] for row in rows] == ["pending@example.com"]
    assert api_client_for(crew.member).get(url).status_code == 403


# Accepting, as an existing user


def test_an_existing_user_accepts_on_the_api(crew):
    invite(crew, email="OUTSIDER@Example.com", role="admin")
    _, token = sent_link()
    response = api_client_for(crew.outsider).post(f"/api/invitations/{token}/accept/")
    assert response.status_code == 200, response.json()
    assert response.json()["id"] == crew.team.pk
    assert response.json()["role"] == "admin"
    assert crew.membership(crew.outsider).role == Role.ADMIN
    invitation = Invitation.objects.get()
    assert invitation.accepted_by == crew.outsider
    assert invitation.accepted_at is not None


def test_an_existing_user_accepts_on_the_page(crew):
    _, token = issue(crew.team, "outsider@example.com")
    client = logged_in(crew.outsider)
    page = client.get(f"/invitations/{token}/")
    assert page.status_code == 200
    assert b'data-testid="accept-invitation"' in page.content
    assert b'data-testid="invitation-signup"' not in page.content
    assert Membership.objects.filter(team=crew.team, user=crew.outsider).count() == 0

    response = client.post(f"/invitations/{token}/")
    assert response.status_code == 302
    assert response["Location"] == f"/teams/{crew.team.pk}/"
    assert crew.membership(crew.outsider).role == Role.MEMBER
    assert b"Welcome to the team Team" in client.get(response["Location"]).content


def test_accepting_keeps_a_higher_role(crew):
    _, token = issue(crew.team, "admin@example.com", role=Role.MEMBER)
    response = api_client_for(crew.admin).post(f"/api/invitations/{token}/accept/")
    assert response.status_code == 200
    assert crew.membership(crew.admin).role == Role.ADMIN


def test_anonymous_visitors_get_a_login_link_back_here(crew, client):
    _, token = issue(crew.team, "someone@example.com")
    page = client.get(f"/invitations/{token}/")
    assert page.status_code == 200
    content = page.content.decode()
    assert f'href="/accounts/login/?next=/invitations/{token}/"' in content
    assert 'data-testid="invitation-signup"' in content
    assert 'name="password2"' in content
    assert "someone@example.com" in content
    assert 'name="csrfmiddlewaretoken"' in content


def test_logging_in_from_the_link_comes_back_to_accept(crew, client):
    _, token = issue(crew.team, "outsider@example.com")
    response = client.post(
        f"/accounts/login/?next=/invitations/{token}/",
        {"username": "outsider", "password": "pw-for-tests", "next": f"/invitations/{token}/"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/invitations/{token}/"
    assert b'data-testid="accept-invitation"' in client.get(response["Location"]).content


def test_the_api_accept_needs_a_login(crew):
    _, token = issue(crew.team, "outsider@example.com")
    assert APIClient().post(f"/api/invitations/{token}/accept/").status_code == 401


# Accepting, as a new user


def test_a_new_user_makes_an_account_and_joins(crew):
    _, token = issue(crew.team, "New.Person@Example.com", role=Role.ADMIN)
    client = Client()
    response = client.post(
        f"/invitations/{token}/",
        {"username": "newbie", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/teams/{crew.team.pk}/"
    user = get_user_model().objects.get(username="newbie")
    assert user.email == "New.Person@example.com"  # the invitation's, domain lowercased
    assert user.check_password(NEW_PASSWORD)
    assert crew.membership(user).role == Role.ADMIN
    # Logged in: the team page opens.
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert b'data-testid="nav-username">newbie<' in page.content
    assert Invitation.objects.get().accepted_by == user


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"username": "newbie", "password1": "123", "password2": "123"}, "password1"),
        ({"username": "newbie", "password1": "password", "password2": "password"}, "password1"),
        (
            {"username": "newbie", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD + "x"},
            "password2",
        ),
        ({"username": "Owner", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}, "username"),
        (
            {"username": "no spaces", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
            "username",
        ),
    ],
)
def test_a_new_account_needs_a_free_username_and_a_good_password(crew, form, field):
    _, token = issue(crew.team, "new.person@example.com")
    response = Client().post(f"/invitations/{token}/", form)
    assert response.status_code == 200
    assert field in response.context["form"].errors, response.context["form"].errors
    assert not get_user_model().objects.filter(email__iexact="new.person@example.com").exists()
    assert Invitation.objects.get().accepted_at is None


def test_the_password_must_not_resemble_the_address(crew):
    _, token = issue(crew.team, "stargazer.pilot@example.com")
    response = Client().post(
        f"/invitations/{token}/",
        {"username": "pilot", "password1": "stargazerpilot", "password2": "stargazerpilot"},
    )
    assert response.status_code == 200
    assert "password1" in response.context["form"].errors


def test_an_address_with_an_account_must_log_in_instead(crew):
    _, token = issue(crew.team, "Outsider@example.com")
    response = Client().post(
        f"/invitations/{token}/",
        {"username": "second", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert "log in to accept" in str(response.context["form"].non_field_errors())
    assert not get_user_model().objects.filter(username="second").exists()


# Refused: expired, used, another address, revoked


def expire(invitation: Invitation) -> None:
    invitation.expires_at = timezone.now() - timedelta(seconds=1)
    invitation.save(update_fields=["expires_at"])


def test_an_expired_invitation_is_gone(crew):
    invitation, token = issue(crew.team, "outsider@example.com")
    expire(invitation)
    response = api_client_for(crew.outsider).post(f"/api/invitations/{token}/accept/")
    assert response.status_code == 410
    assert response.json()["detail"] == INVITATION_EXPIRED
    for client in (Client(), logged_in(crew.outsider)):
        page = client.get(f"/invitations/{token}/")
        assert page.status_code == 410
        assert b'data-testid="invitation-gone"' in page.content
        assert b"has expired" in page.content
        assert client.post(f"/invitations/{token}/").status_code == 410
    assert not Membership.objects.filter(team=crew.team, user=crew.outsider).exists()


def test_an_invitation_works_once(crew):
    _, token = issue(crew.team, "outsider@example.com")
    outsider = api_client_for(crew.outsider)
    assert outsider.post(f"/api/invitations/{token}/accept/").status_code == 200
    again = outsider.post(f"/api/invitations/{token}/accept/")
    assert again.status_code == 410
    assert again.json()["detail"] == INVITATION_USED
    page = logged_in(crew.outsider).get(f"/invitations/{token}/")
    assert page.status_code == 410
    assert b"used already" in page.content
    # Nor can a new account use it.
    new = Client().post(
        f"/invitations/{token}/",
        {"username": "late", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert new.status_code == 410
    assert not get_user_model().objects.filter(username="late").exists()
    with pytest.raises(InvitationGone):
        invitation_accept(token=token, user=crew.outsider)


def test_another_users_invitation_is_refused(crew):
    _, token = issue(crew.team, "someone.else@example.com")
    response = api_client_for(crew.outsider).post(f"/api/invitations/{token}/accept/")
    assert response.status_code == 403
    assert response.json()["detail"] == INVITATION_OTHER_ADDRESS
    client = logged_in(crew.outsider)
    for page in (client.get(f"/invitations/{token}/"), client.post(f"/invitations/{token}/")):
        assert page.status_code == 403
        assert b'data-testid="wrong-user"' in page.content
        assert b"sent to another address" in page.content
        assert b'data-testid="accept-invitation"' not in page.content
    assert not Membership.objects.filter(team=crew.team, user=crew.outsider).exists()
    assert Invitation.objects.get().accepted_at is None


def test_a_user_without_an_address_is_another_user(crew):
    nobody = UserFactory(username="nobody", email="")
    _, token = issue(crew.team, "x@example.com")
    assert api_client_for(nobody).post(f"/api/invitations/{token}/accept/").status_code == 403


def test_a_revoked_invitation_is_deleted_and_its_link_dead(crew):
    invite(crew, email="outsider@example.com")
    _, token = sent_link()
    invitation = Invitation.objects.get()
    url = f"/api/teams/{crew.team.pk}/invitations/{invitation.pk}/"
    assert api_client_for(crew.member).delete(url).status_code == 403
    assert api_client_for(crew.admin).delete(url).status_code == 204
    assert not Invitation.objects.exists()
    assert (
        api_client_for(crew.outsider).post(f"/api/invitations/{token}/accept/").status_code == 404
    )
    page = logged_in(crew.outsider).get(f"/invitations/{token}/")
    assert page.status_code == 404
    assert b"not valid" in page.content


def test_revoking_on_the_page(crew):
    invitation, token = issue(crew.team, "someone@example.com")
    client = logged_in(crew.admin)
    team_page = client.get(f"/teams/{crew.team.pk}/").content.decode()
    assert "someone@example.com" in team_page
    revoke = f"/teams/{crew.team.pk}/invitations/{invitation.pk}/revoke/"
    assert f'action="{revoke}"' in team_page
    response = client.post(revoke, follow=True)
    assert response.redirect_chain[-1][0] == f"/teams/{crew.team.pk}/"
    assert b"Invitation to someone@example.com withdrawn." in response.content
    assert not Invitation.objects.exists()
    assert Client().get(f"/invitations/{token}/").status_code == 404


def test_inviting_on_the_page(crew):
    client = logged_in(crew.admin)
    response = client.post(
        f"/teams/{crew.team.pk}/invitations/",
        {"email": "page.invite@example.com", "role": "member"},
        follow=True,
    )
    assert b"Invitation sent to page.invite@example.com." in response.content
    link, _ = sent_link()
    assert link.startswith("http://testserver/invitations/")
    assert b"page.invite@example.com" in response.content  # among the pending ones
    # A member's page has no invite form, and their POST is refused.
    member = logged_in(crew.member)
    assert b'data-testid="invite-form"' not in member.get(f"/teams/{crew.team.pk}/").content
    refused = member.post(
        f"/teams/{crew.team.pk}/invitations/", {"email": "y@example.com", "role": "member"}
    )
    assert refused.status_code == 403
    assert b"Only the team&#x27;s owners and admins can do this." in refused.content
    assert len(mail.outbox) == 1


def test_an_admin_page_offers_no_owner_invitations(crew):
    admin_page = logged_in(crew.admin).get(f"/teams/{crew.team.pk}/")
    form = admin_page.context["invitation_form"]
    assert "owner" not in dict(form.fields["role"].choices)
    owner_page = logged_in(crew.owner).get(f"/teams/{crew.team.pk}/")
    assert "owner" in dict(owner_page.context["invitation_form"].fields["role"].choices)
