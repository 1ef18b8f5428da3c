import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.dispatch import Signal
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from rest_framework.authtoken.models import Token

from accounts.models import MANAGING_ROLES, Invitation, Membership, Role, Team, hash_token
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


# Team management by an acting user. Who may do what (the permission failures raise NotAllowed,
# with a plain message: the API answers 403, the pages show it):
# - any member reads the team and may leave it;
# - owners and admins change its settings, invite, revoke invitations, change roles of and
#   remove members;
# - only owners make or demote owners, remove an owner, transfer ownership or delete the team;
# - the last owner can neither leave, be removed nor be demoted (MembershipRefused, LAST_OWNER).


class NotAllowed(Exception):
    """The acting user's role in the team does not allow the change."""


class InvitationGone(Exception):
    """The invitation was used or has expired."""


class InvitationNotFound(Exception):
    """No invitation has this token: mistyped, or revoked."""


class InvitationWrongUser(Exception):
    """A logged-in user other than the invited one tries to accept."""


class InvitationNotSent(Exception):
    """The e-mail could not be sent; nothing was kept."""


MANAGERS_ONLY = "Only the team's owners and admins can do this."
OWNERS_ONLY = "Only the team's owners can do this."
OWNERS_MAKE_OWNERS = "Only the team's owners can make or demote owners."
OWNERS_REMOVE_OWNERS = "Only the team's owners can remove an owner."
OWNERS_INVITE_OWNERS = "Only the team's owners can invite owners."
TRANSFER_TO_SELF = "You own the team already: choose another member."
INVITATION_USED = "This invitation has been used already."
INVITATION_EXPIRED = "This invitation has expired: ask the team for a new one."
INVITATION_UNKNOWN = "This invitation link is not valid: it was withdrawn or is mistyped."
INVITATION_OTHER_ADDRESS = (
    "This invitation was sent to another address than your account's. Log in with the invited "
    "account, or ask the team to invite your address."
)
INVITATION_NOT_SENT = "The invitation e-mail could not be sent; nothing was saved. Try again later."
ALREADY_MEMBER = "Someone with this e-mail address is a member of the team already."
EMAIL_HAS_ACCOUNT = "An account with this e-mail address exists already: log in to accept."

TEAM_SETTINGS = (
    "name",
    "default_model",
    "default_language",
    "default_itn",
    "default_identify_speakers",
    "audio_retention_days",
)

logger = logging.getLogger(__name__)


def acting_membership(*, team: Team, user: AbstractBaseUser) -> Membership | None:
    return Membership.objects.filter(team=team, user=user).first()


def _require(
    team: Team, user: AbstractBaseUser, roles: tuple[str, ...], message: str
) -> Membership:
    acting = acting_membership(team=team, user=user)
    if acting is None or acting.role not in roles:
        raise NotAllowed(message)
    return acting


def team_update(*, team: Team, by: AbstractBaseUser, **fields: object) -> Team:
    """The team's name, upload defaults and audio retention; quotas are the staff's (admin)."""
    _require(team, by, MANAGING_ROLES, MANAGERS_ONLY)
    unknown = set(fields) - set(TEAM_SETTINGS)
    if unknown:
        raise ValueError(f"Not a team setting: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(team, name, value)
    if fields:
        team.save(update_fields=list(fields))
    return team


@transaction.atomic
def team_delete(*, team: Team, by: AbstractBaseUser) -> None:
    """The team goes, with its recordings (and their audio), memberships and invitations."""
    _require(team, by, (Role.OWNER,), OWNERS_ONLY)
    members = [membership.user for membership in team.memberships.select_related("user")]
    team.delete()
    for user in members:
        _memberships_changed(user)


@transaction.atomic
def member_set_role(*, membership: Membership, role: str, by: AbstractBaseUser) -> Membership:
    if role not in Role.values:
        raise ValueError(f"Not a role: {role}")
    acting = _require(membership.team, by, MANAGING_ROLES, MANAGERS_ONLY)
    if Role.OWNER in (role, membership.role) and acting.role != Role.OWNER:
        raise NotAllowed(OWNERS_MAKE_OWNERS)
    if membership.role == role:
        return membership
    return membership_set_role(membership=membership, role=role)


@transaction.atomic
def member_remove(*, membership: Membership, by: AbstractBaseUser) -> None:
    """A manager removes a member; a member removing themselves leaves."""
    if membership.user_id == by.pk:
        membership_remove(membership=membership)
        return
    acting = _require(membership.team, by, MANAGING_ROLES, MANAGERS_ONLY)
    if membership.role == Role.OWNER and acting.role != Role.OWNER:
        raise NotAllowed(OWNERS_REMOVE_OWNERS)
    membership_remove(membership=membership)


def member_leave(*, team: Team, user: AbstractBaseUser) -> None:
    membership = acting_membership(team=team, user=user)
    if membership is None:
        raise NotAllowed("You are not a member of this team.")
    member_remove(membership=membership, by=user)


@transaction.atomic
def team_transfer_ownership(*, team: Team, by: AbstractBaseUser, to: Membership) -> None:
    """An owner hands the team to another member, and stays on as an admin."""
    _require(team, by, (Role.OWNER,), OWNERS_ONLY)
    if to.team_id != team.pk:
        raise ValueError("The new owner must be a member of the team.")
    if to.user_id == by.pk:
        raise MembershipRefused(TRANSFER_TO_SELF)
    ownership_transfer(team=team, from_user=by, to=to)


def invitation_link(token: str, request: HttpRequest | None = None) -> str:
    """The page that accepts the invitation: under PUBLIC_URL where set, else on the address the
    request came to."""
    path = reverse("invitation", args=[token])
    if settings.PUBLIC_URL:
        return settings.PUBLIC_URL.rstrip("/") + path
    if request is None:
        raise ValueError("Without PUBLIC_URL the link needs the request's address.")
    return request.build_absolute_uri(path)


def invitation_send(
    *,
    team: Team,
    email: str,
    role: str,
    by: AbstractBaseUser,
    request: HttpRequest | None = None,
) -> Invitation:
    """Invites `email` by e-mail with a one-time link. If the e-mail cannot be sent, the
    invitation is deleted again and InvitationNotSent raised. Earlier pending invitations of
    the same address to the team are replaced by this one once it is sent."""
    acting = _require(team, by, MANAGING_ROLES, MANAGERS_ONLY)
    if role not in Role.values:
        raise ValueError(f"Not a role: {role}")
    if role == Role.OWNER and acting.role != Role.OWNER:
        raise NotAllowed(OWNERS_INVITE_OWNERS)
    email = BaseUserManager.normalize_email(email.strip())
    if team.memberships.filter(user__email__iexact=email).exists():
        raise ValidationError({"email": [ALREADY_MEMBER]})
    invitation, token = Invitation.issue(team=team, email=email, role=role, invited_by=by)
    context = {
        "team": team,
        "role": invitation.get_role_display(),
        "invited_by": by,
        "link": invitation_link(token, request),
        "expires_at": invitation.expires_at,
    }
    try:
        send_mail(
            # One line: a header with a line break in it would not be sent.
            subject=gettext("Invitation to the team %(team)s on Voxa")
            % {"team": " ".join(team.name.split())},
            message=render_to_string("accounts/invitation_email.txt", context),
            from_email=None,  # DEFAULT_FROM_EMAIL
            recipient_list=[email],
        )
    except Exception as error:
        invitation.delete()
        logger.exception("Invitation to %s for team %s not sent", email, team.pk)
        raise InvitationNotSent(INVITATION_NOT_SENT) from error
    Invitation.objects.filter(team=team, email__iexact=email, accepted_at__isnull=True).exclude(
        pk=invitation.pk
    ).delete()
    return invitation


def invitation_revoke(*, invitation: Invitation, by: AbstractBaseUser) -> None:
    _require(invitation.team, by, MANAGING_ROLES, MANAGERS_ONLY)
    invitation.delete()


def invitation_for_token(token: str) -> Invitation:
    """The invitation of a link, still pending; else InvitationNotFound or InvitationGone."""
    invitation = (
        Invitation.objects.select_related("team", "invited_by")
        .filter(token_hash=hash_token(token))
        .first()
    )
    return _pending(invitation)


def _pending(invitation: Invitation | None) -> Invitation:
    if invitation is None:
        raise InvitationNotFound(INVITATION_UNKNOWN)
    if invitation.accepted_at is not None:
        raise InvitationGone(INVITATION_USED)
    if invitation.is_expired:
        raise InvitationGone(INVITATION_EXPIRED)
    return invitation


def invitation_check_user(invitation: Invitation, user: AbstractBaseUser) -> None:
    """InvitationWrongUser unless `user`'s e-mail is the invited one (case aside)."""
    if (user.email or "").strip().casefold() != invitation.email.strip().casefold():
        raise InvitationWrongUser(INVITATION_OTHER_ADDRESS)


def _claim(token: str) -> Invitation:
    # Locked: the same link accepted twice at once joins once.
    invitation = Invitation.objects.select_for_update().filter(token_hash=hash_token(token)).first()
    return _pending(invitation)


@transaction.atomic
def invitation_accept(*, token: str, user: AbstractBaseUser) -> Membership:
    """A logged-in user accepts an invitation to their e-mail address and joins the team (a
    member already keeps the higher of both roles)."""
    invitation = _claim(token)
    invitation_check_user(invitation, user)
    return _join(invitation, user)


@transaction.atomic
def invitation_accept_as_new_user(*, token: str, username: str, password: str) -> AbstractBaseUser:
    """Creates an account with the invitation's e-mail address, which joins the team. Invalid
    username or password: django's ValidationError, keyed by "username" or "password"."""
    invitation = _claim(token)
    User = get_user_model()
    if User.objects.filter(email__iexact=invitation.email).exists():
        raise ValidationError(EMAIL_HAS_ACCOUNT)
    user = User(username=username, email=invitation.email)
    errors: dict[str, list] = {}
    try:
        user.full_clean(exclude=["password"], validate_constraints=False)
    except ValidationError as invalid:
        errors.update(invalid.message_dict)
    if User.objects.filter(username__iexact=username).exists():
        errors.setdefault("username", ["A user with that username already exists."])
    try:
        validate_password(password, user)
    except ValidationError as weak:
        errors["password"] = weak.messages
    if errors:
        raise ValidationError(errors)
    user.set_password(password)
    user.save()
    _join(invitation, user)
    return user


def _join(invitation: Invitation, user: AbstractBaseUser) -> Membership:
    membership = membership_add(team=invitation.team, user=user, role=invitation.role)
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership
