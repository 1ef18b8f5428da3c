"""The active workspace of a visit: the one the pages show and upload into.

It is the user's personal workspace or one of their teams, kept in the session. A team the user
has left, or one that was deleted, silently gives way to the personal workspace: the pages never
show a team to someone who is no longer in it.
"""

from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from accounts.models import Team
from transcription import selectors
from transcription.models import Recording

SESSION_KEY = "workspace"


@dataclass(frozen=True)
class Workspace:
    # "personal" or the team's id: what the switcher posts and the API's ?workspace= takes.
    key: str
    team: Team | None = None
    role: str = ""  # the user's role in the team

    @property
    def label(self) -> str:
        return _("Team: %(name)s") % {"name": self.team.name} if self.team else _("Personal")

    @property
    def in_words(self) -> str:
        """For sentences: "Files go into ..."."""
        if self.team:
            return _("the team %(name)s") % {"name": self.team.name}
        return _("your personal workspace")

    @property
    def choice_label(self) -> str:
        return f"{self.label} ({self.role})" if self.role else self.label

    @property
    def scope(self) -> Team | str:
        """The workspace as the selectors take it."""
        return self.team or selectors.PERSONAL


PERSONAL_WORKSPACE = Workspace(selectors.PERSONAL)


def workspaces_for(user: AbstractBaseUser) -> list[Workspace]:
    """The personal workspace, then the user's teams with their role in each."""
    # The annotation reuses teams_for's join on the user's own membership.
    teams = selectors.teams_for(user).annotate(role=F("memberships__role"))
    return [PERSONAL_WORKSPACE, *(Workspace(str(team.pk), team, team.role) for team in teams)]


def workspace_of(recording: Recording) -> Workspace:
    """Where a recording lives."""
    if recording.team is None:
        return PERSONAL_WORKSPACE
    return Workspace(str(recording.team_id), recording.team)


def active_workspace(request: HttpRequest) -> Workspace:
    # Kept on the request: the view and the layout's context processor both ask, once a page.
    if not hasattr(request, "_active_workspace"):
        request._active_workspace = _session_workspace(request)
    return request._active_workspace


def _session_workspace(request: HttpRequest) -> Workspace:
    team_id = request.session.get(SESSION_KEY)
    if team_id is None:
        return PERSONAL_WORKSPACE
    team = selectors.team_for(request.user, team_id)
    if team is None:
        # Left or deleted: forgotten, so that joining again later does not switch back to it.
        del request.session[SESSION_KEY]
        return PERSONAL_WORKSPACE
    return Workspace(str(team.pk), team)


@login_required
@require_POST
def switch_workspace(request: HttpRequest) -> HttpResponse:
    asked = request.POST.get("workspace", "")
    if asked == selectors.PERSONAL:
        request.session.pop(SESSION_KEY, None)
    else:
        team = selectors.team_for(request.user, asked)
        if team is None:
            raise Http404(_("No such workspace."))
        request.session[SESSION_KEY] = team.pk
    return HttpResponseRedirect(_safe_next(request))


def _safe_next(request: HttpRequest) -> str:
    """Back to the page the switcher was on; never to another site."""
    wanted = request.POST.get("next", "")
    allowed = url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return wanted if allowed else reverse("upload")


def workspace_context(request: HttpRequest) -> dict:
    """For the header's switcher and the pages that say where they are."""
    if not request.user.is_authenticated:
        return {}
    return {
        "workspaces": workspaces_for(request.user),
        "active_workspace": active_workspace(request),
    }
