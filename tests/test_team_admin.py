"""Teams in Django's admin: staff set a team's quotas and retention there; memberships and
invitations are shown, not changed."""

import pytest
from django.urls import reverse

from accounts.models import Invitation, Role
from tests.factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def test_the_team_list_shows_members_quotas_and_retention(staff_client):
    team = TeamFactory(name="Crew", monthly_audio_hours=12.5, storage_gb=3, audio_retention_days=90)
    MembershipFactory.create_batch(3, team=team)

    page = staff_client.get(reverse("admin:accounts_team_changelist")).content.decode()

    assert '<td class="field-members">3</td>' in page
    assert '<td class="field-monthly_audio_hours">12.5</td>' in page
    assert '<td class="field-storage_gb">3.0</td>' in page
    assert '<td class="field-audio_retention_days">90</td>' in page


def test_staff_set_a_teams_quotas(staff_client):
    team = TeamFactory(name="Crew")
    member = MembershipFactory(team=team, role=Role.OWNER)
    url = reverse("admin:accounts_team_change", args=[team.pk])
    form = {
        "name": "Crew",
        "default_model": "",
        "default_language": "auto",
        "default_itn": "on",
        "audio_retention_days": "30",
        "monthly_audio_hours": "10",
        "storage_gb": "5",
        "created_at_0": "2026-01-01",
        "created_at_1": "00:00:00",
        # The read-only inline posts nothing of its own but its management form.
        "memberships-TOTAL_FORMS": "1",
        "memberships-INITIAL_FORMS": "1",
    }
    page = staff_client.get(url).content.decode()
    assert member.user.username in page  # the inline lists the members

    response = staff_client.post(url, form)

    assert response.status_code == 302, response.content.decode()[:2000]
    team.refresh_from_db()
    assert (team.monthly_audio_hours, team.storage_gb, team.audio_retention_days) == (10, 5, 30)
    member.refresh_from_db()
    assert member.role == Role.OWNER


def test_an_invitation_shows_its_token_hash_and_no_field_to_change_it(staff_client):
    invitation, token = Invitation.issue(
        team=TeamFactory(), email="new@example.com", role=Role.MEMBER, invited_by=None
    )

    page = staff_client.get(
        reverse("admin:accounts_invitation_change", args=[invitation.pk])
    ).content.decode()

    assert invitation.token_hash in page
    assert token not in page
    assert 'name="token_hash"' not in page
    assert 'name="email"' not in page  # shown, not a field
    assert 'name="_save"' not in page
