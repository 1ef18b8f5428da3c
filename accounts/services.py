from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.dispatch import Signal
from rest_framework.authtoken.models import Token

from accounts.models import Membership, Role, Team
from accounts.selectors import token_is_expired

# Sent after the commit that changed a user's teams or roles (user=...): what they may see
# changed, their open sockets included.
memberships_changed = Signal()


@transaction.atomic
def token_obtain(*, user: AbstractBaseUser) -> Token:
    """The user's API token: the current one while it is valid, else a new one replacing it."""
    token, created = Token.objects.select_for_update().get_or_create(user=user)
    if not created and token_is_expired(token):
        token.delete()
        token = Token.objects.create(user=user)
    return token


def token_revoke(*, user: AbstractBaseUser) -> None:
    Token.objects.filter(user=user).delete()


class MembershipRefused(Exception):
    """A change the team's rules forbid; the message says which, in plain words."""


LAST_OWNER = "A team keeps at least one owner: make another member owner first."


@transaction.atomic
def team_create(*, creator: AbstractBaseUser, name: str, **fields: object) -> Team:
    team = Team.objects.create(name=name, **fields)
    Membership.objects.create(team=team, user=creator, role=Role.OWNER)
    return team


def membership_add(*, team: Team, user: AbstractBaseUser, role: str) -> Membership:
    """The user joins (or, already a member, keeps the higher of both roles)."""
    membership, created = Membership.objects.get_or_create(
        team=team, user=user, defaults={"role": role}
    )
    if not created and _rank(role) < _rank(membership.role):
        membership.role = role
        membership.save(update_fields=["role"])
    _memberships_changed(user)
    return membership


def _rank(role: str) -> int:
    return [Role.OWNER, Role.ADMIN, Role.MEMBER].index(role)


@transaction.atomic
def membership_set_role(*, membership: Membership, role: str) -> Membership:
    if membership.role == Role.OWNER and role != Role.OWNER:
        _keep_an_owner(membership)
    membership.role = role
    membership.save(update_fields=["role"])
    _memberships_changed(membership.user)
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    """Removal by a manager, or leaving: access to the team ends at once, open sockets too."""
    if membership.role == Role.OWNER:
        _keep_an_owner(membership)
    membership.delete()
    _memberships_changed(membership.user)


@transaction.atomic
def ownership_transfer(*, team: Team, from_user: AbstractBaseUser, to: Membership) -> None:
    """`to` becomes an owner; the owner handing over stays on as an admin."""
    to.role = Role.OWNER
    to.save(update_fields=["role"])
    Membership.objects.filter(team=team, user=from_user).update(role=Role.ADMIN)
    _memberships_changed(to.user)
    _memberships_changed(from_user)


def _keep_an_owner(leaving: Membership) -> None:
    # Locked, so that two owners demoting each other at once cannot both succeed.
    owners = Membership.objects.select_for_update().filter(team=leaving.team, role=Role.OWNER)
    if not owners.exclude(pk=leaving.pk).exists():
        raise MembershipRefused(LAST_OWNER)


def _memberships_changed(user: AbstractBaseUser) -> None:
    transaction.on_commit(lambda: memberships_changed.send(sender=Membership, user=user))
