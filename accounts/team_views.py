"""The team pages, the invitation page and the sign-up page.

A team that is not the user's answers 404. Changes are POSTed to their own addresses and, done,
redirect back with a message; a refusal (the user's role, the last-owner rule) shows the team
page again with the reason, answered 403 or 409; a form with errors shows it again with them.
"""

from collections.abc import Callable
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.forms import (
    InvitationForm,
    InvitationSignupForm,
    SignupForm,
    TeamCreateForm,
    TeamDeleteForm,
    TeamSettingsForm,
    TransferOwnershipForm,
    role_choices,
)
from accounts.models import MANAGING_ROLES, Invitation, Membership, Role, Team

# The backend a session made here is tied to (django-axes' own backend only checks lockouts).
LOGIN_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _team(request: HttpRequest, pk: int) -> Team:
    team = selectors.team_of(request.user, pk)
    if team is None:
        raise Http404(_("No such team."))
    return team


def _team_page(request: HttpRequest, team: Team, *, status: int = 200, **forms: object):
    is_manager = team.my_role in MANAGING_ROLES
    is_owner = team.my_role == Role.OWNER
    members = list(selectors.team_members(team))
    owners = sum(membership.role == Role.OWNER for membership in members)
    context = {
        "team": team,
        "members": members,
        "is_manager": is_manager,
        "is_owner": is_owner,
        "sole_owner": is_owner and owners == 1,
        "role_choices": role_choices(owner_may=is_owner),
        "invitations": selectors.pending_invitations(team) if is_manager else [],
        "invitation_form": InvitationForm(owner_may=is_owner),
        "settings_form": TeamSettingsForm(instance=team),
        "transfer_form": TransferOwnershipForm(team=team, user=request.user),
        "delete_form": TeamDeleteForm(),
        **forms,
    }
    return render(request, "accounts/team_detail.html", context, status=status)


def _change(
    request: HttpRequest,
    team: Team,
    change: Callable[[], object],
    *,
    done: str,
    then: str | None = None,
    **forms: object,
) -> HttpResponse:
    """Runs `change`; done: a message and back to `then` (the team page); refused: the team page
    with the reason."""
    try:
        change()
    except services.NotAllowed as refusal:
        messages.error(request, str(refusal))
        return _team_page(request, team, status=403, **forms)
    except services.MembershipRefused as refusal:
        messages.error(request, str(refusal))
        return _team_page(request, team, status=409, **forms)
    messages.success(request, done)
    return redirect(then or reverse("team", args=[team.pk]))


def _refuse_unless(request: HttpRequest, team: Team, roles: tuple[str, ...], message: str):
    """The team page with `message` (403) if the user's role is not among `roles`, else None."""
    if team.my_role in roles:
        return None
    messages.error(request, message)
    return _team_page(request, team, status=403)


@login_required
def teams(request: HttpRequest) -> HttpResponse:
    form = TeamCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        team = services.team_create(creator=request.user, name=form.cleaned_data["name"])
        messages.success(
            request, _("Team %(name)s created: you are its owner.") % {"name": team.name}
        )
        return redirect("team", team.pk)
    return render(
        request,
        "accounts/team_list.html",
        {"teams": selectors.teams_of(request.user), "form": form},
    )


@login_required
def team(request: HttpRequest, pk: int) -> HttpResponse:
    return _team_page(request, _team(request, pk))


@login_required
@require_POST
def team_settings(request: HttpRequest, pk: int) -> HttpResponse:
    team = _team(request, pk)
    if refused := _refuse_unless(request, team, MANAGING_ROLES, services.MANAGERS_ONLY):
        return refused
    # A copy of its own: a form with errors must not rename the team the page shows.
    form = TeamSettingsForm(request.POST, instance=_team(request, pk))
    if not form.is_valid():
        return _team_page(request, team, settings_form=form)
    fields = {name: form.cleaned_data[name] for name in services.TEAM_SETTINGS}
    return _change(
        request,
        team,
        lambda: services.team_update(team=team, by=request.user, **fields),
        done=_("Settings saved."),
        settings_form=form,
    )


@login_required
@require_POST
def team_delete(request: HttpRequest, pk: int) -> HttpResponse:
    team = _team(request, pk)
    if refused := _refuse_unless(request, team, (Role.OWNER,), services.OWNERS_ONLY):
        return refused
    form = TeamDeleteForm(request.POST)
    if not form.is_valid():
        return _team_page(request, team, delete_form=form)
    return _change(
        request,
        team,
        lambda: services.team_delete(team=team, by=request.user),
        done=_("Team %(name)s deleted.") % {"name": team.name},
        then=reverse("teams"),
    )


@login_required
@require_POST
def team_invite(request: HttpRequest, pk: int) -> HttpResponse:
    team = _team(request, pk)
    if refused := _refuse_unless(request, team, MANAGING_ROLES, services.MANAGERS_ONLY):
        return refused
    form = InvitationForm(request.POST, owner_may=team.my_role == Role.OWNER)
    if not form.is_valid():
        return _team_page(request, team, invitation_form=form)
    email, role = form.cleaned_data["email"], form.cleaned_data["role"]

    def send() -> None:
        services.invitation_send(
            team=team, email=email, role=role, by=request.user, request=request
        )

    try:
        return _change(
            request,
            team,
            send,
            done=_("Invitation sent to %(email)s.") % {"email": email},
            invitation_form=form,
        )
    except ValidationError as invalid:
        _add_errors(form, invalid)
        return _team_page(request, team, invitation_form=form)
    except services.InvitationNotSent as failure:
        messages.error(request, str(failure))
        return _team_page(request, team, status=503, invitation_form=form)


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, pk: int, invitation_id: int) -> HttpResponse:
    team = _team(request, pk)
    invitation = get_object_or_404(
        Invitation.objects.filter(team=team, accepted_at__isnull=True), pk=invitation_id
    )
    return _change(
        request,
        team,
        lambda: services.invitation_revoke(invitation=invitation, by=request.user),
        done=_("Invitation to %(email)s withdrawn.") % {"email": invitation.email},
    )


def _membership(team: Team, user_id: int) -> Membership:
    return get_object_or_404(team.memberships.select_related("user"), user_id=user_id)


@login_required
@require_POST
def member_role(request: HttpRequest, pk: int, user_id: int) -> HttpResponse:
    team = _team(request, pk)
    membership = _membership(team, user_id)
    role = request.POST.get("role", "")
    if role not in Role.values:
        messages.error(request, _("Choose a role: owner, admin or member."))
        return _team_page(request, team, status=400)
    name = membership.user.get_username()
    return _change(
        request,
        team,
        lambda: services.member_set_role(membership=membership, role=role, by=request.user),
        done=_("%(name)s is now %(role)s.") % {"name": name, "role": Role(role).label.lower()},
    )


@login_required
@require_POST
def member_remove(request: HttpRequest, pk: int, user_id: int) -> HttpResponse:
    team = _team(request, pk)
    membership = _membership(team, user_id)
    if membership.user_id == request.user.pk:
        return team_leave(request, pk)
    return _change(
        request,
        team,
        lambda: services.member_remove(membership=membership, by=request.user),
        done=_("%(name)s was removed from the team.") % {"name": membership.user.get_username()},
    )


@login_required
@require_POST
def team_leave(request: HttpRequest, pk: int) -> HttpResponse:
    team = _team(request, pk)
    return _change(
        request,
        team,
        lambda: services.member_leave(team=team, user=request.user),
        done=_("You left the team %(name)s.") % {"name": team.name},
        then=reverse("teams"),
    )


@login_required
@require_POST
def team_transfer(request: HttpRequest, pk: int) -> HttpResponse:
    team = _team(request, pk)
    if refused := _refuse_unless(request, team, (Role.OWNER,), services.OWNERS_ONLY):
        return refused
    form = TransferOwnershipForm(request.POST, team=team, user=request.user)
    if not form.is_valid():
        return _team_page(request, team, transfer_form=form)
    to = form.cleaned_data["membership"]
    return _change(
        request,
        team,
        lambda: services.team_transfer_ownership(team=team, by=request.user, to=to),
        done=_("%(name)s is now an owner; you are an admin.") % {"name": to.user.get_username()},
        transfer_form=form,
    )


def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """The link in the e-mail. Signed in: accept. Anonymous: make an account with the invited
    address (or log in and come back)."""
    try:
        invitation = services.invitation_for_token(token)
    except services.InvitationNotFound as missing:
        return _invitation_gone(request, missing, 404)
    except services.InvitationGone as gone:
        return _invitation_gone(request, gone, 410)
    if request.user.is_authenticated:
        return _accept(request, token, invitation)
    return _accept_as_new_user(request, token, invitation)


def _invitation_gone(request: HttpRequest, reason: Exception, status: int) -> HttpResponse:
    return render(request, "accounts/invitation_gone.html", {"reason": reason}, status=status)


def _invitation_page(request: HttpRequest, invitation: Invitation, status: int = 200, **context):
    context = {
        "invitation": invitation,
        "login_url": f"{reverse('login')}?next={quote(request.path)}",
        **context,
    }
    return render(request, "accounts/invitation.html", context, status=status)


def _accept(request: HttpRequest, token: str, invitation: Invitation) -> HttpResponse:
    try:
        services.invitation_check_user(invitation, request.user)
    except services.InvitationWrongUser as wrong:
        return _invitation_page(request, invitation, status=403, wrong_user=str(wrong))
    member = invitation.team.memberships.filter(user=request.user).first()
    if request.method != "POST":
        return _invitation_page(request, invitation, membership=member)
    try:
        services.invitation_accept(token=token, user=request.user)
    except services.InvitationGone as gone:  # used meanwhile
        return _invitation_gone(request, gone, 410)
    except services.InvitationNotFound as missing:  # withdrawn meanwhile
        return _invitation_gone(request, missing, 404)
    messages.success(request, _("Welcome to the team %(name)s.") % {"name": invitation.team.name})
    return redirect("team", invitation.team_id)


def _accept_as_new_user(request: HttpRequest, token: str, invitation: Invitation) -> HttpResponse:
    form = InvitationSignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invitation_accept_as_new_user(
                token=token,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
            )
        except ValidationError as invalid:
            _add_errors(form, invalid, password="password1")
        except services.InvitationGone as gone:
            return _invitation_gone(request, gone, 410)
        except services.InvitationNotFound as missing:
            return _invitation_gone(request, missing, 404)
        else:
            login(request, user, backend=LOGIN_BACKEND)
            messages.success(
                request,
                _("Welcome to Voxa and to the team %(name)s.") % {"name": invitation.team.name},
            )
            return redirect("team", invitation.team_id)
    return _invitation_page(request, invitation, form=form)


def _add_errors(form, invalid: ValidationError, **renamed: str) -> None:
    """A service's ValidationError onto the form: by field where it names one of the form's."""
    errors = invalid.message_dict if hasattr(invalid, "error_dict") else {None: invalid.messages}
    for key, messages_ in errors.items():
        field = renamed.get(key, key)
        form.add_error(field if field in form.fields else None, messages_)


def signup(request: HttpRequest) -> HttpResponse:
    """Open sign-up, where settings.ALLOW_SIGNUP allows it; else there is no such page."""
    if not settings.ALLOW_SIGNUP:
        raise Http404(
            _("Sign-up is closed: accounts come from the administrator or an invitation.")
        )
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend=LOGIN_BACKEND)
        messages.success(request, _("Welcome to Voxa, %(name)s.") % {"name": user.get_username()})
        return redirect(settings.LOGIN_REDIRECT_URL)
    return render(request, "registration/signup.html", {"form": form})
