from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Case, IntegerField, OuterRef, QuerySet, Subquery, Value, When
from django.utils import timezone
from rest_framework.authtoken.models import Token

from accounts.models import Invitation, Membership, Role, Team


def token_is_expired(token: Token) -> bool:
    return token.created < timezone.now() - settings.TOKEN_TTL


def teams_of(user: AbstractBaseUser) -> QuerySet[Team]:
    """The user's teams, each with `my_role`: the user's role in it."""
    role = Membership.objects.filter(team=OuterRef("pk"), user=user).values("role")[:1]
    return Team.objects.filter(memberships__user=user).annotate(my_role=Subquery(role))


def team_of(user: AbstractBaseUser, team_id: object) -> Team | None:
    """The team `team_id` names, with `my_role`, if `user` is a member; else None."""
    try:
        return teams_of(user).filter(pk=int(team_id)).first()
    except (TypeError, ValueError):
        return None


def team_members(team: Team) -> QuerySet[Membership]:
    """Owners first, then admins, then members; each group in the order they joined."""
    rank = Case(
        *(When(role=role, then=Value(i)) for i, role in enumerate(Role)),
        output_field=IntegerField(),
    )
    return (
        Membership.objects.filter(team=team)
        .select_related("user")
        .order_by(rank, "joined_at", "id")
    )


def pending_invitations(team: Team) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        team=team, accepted_at__isnull=True, expires_at__gt=timezone.now()
    ).select_related("invited_by")
