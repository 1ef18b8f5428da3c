"""A team with one member of each role, for the team API, invitation and page tests."""

import re
from dataclasses import dataclass

from django.core import mail

from accounts.models import Invitation, Membership, Role, Team
from accounts.services import membership_add, team_create
from tests.factories import UserFactory

LINK = re.compile(r"https?://\S+/invitations/(?P<token>[^/\s]+)/")


@dataclass
class Crew:
    team: Team
    owner: object
    admin: object
    member: object
    outsider: object  # in a team of their own only

    def membership(self, user) -> Membership:
        return Membership.objects.get(team=self.team, user=user)


def team_with_every_role() -> Crew:
    owner, admin, member, outsider = (
        UserFactory(username=name) for name in ("owner", "admin", "member", "outsider")
    )
    team = team_create(creator=owner, name="Team")
    membership_add(team=team, user=admin, role=Role.ADMIN)
    membership_add(team=team, user=member, role=Role.MEMBER)
    team_create(creator=outsider, name="Elsewhere")
    return Crew(team, owner, admin, member, outsider)


def sent_link() -> tuple[str, str]:
    """The invitation link in the last e-mail sent, and its token."""
    found = LINK.search(mail.outbox[-1].body)
    assert found, mail.outbox[-1].body
    return found.group(0), found.group("token")


def issue(team: Team, email: str, role: str = Role.MEMBER, by=None) -> tuple[Invitation, str]:
    """An invitation made directly (no e-mail), and its token."""
    return Invitation.issue(team=team, email=email, role=role, invited_by=by)
