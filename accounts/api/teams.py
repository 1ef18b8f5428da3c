"""The teams API: teams, their members and invitations, and accepting an invitation.

Anything of a team answers 404 to whoever is not one of its members; a member whose role does not
allow a change gets 403 with the reason (accounts.services says who may do what).
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import (
    APIException,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.api.serializers import (
    InvitationSerializer,
    MemberSerializer,
    TeamSerializer,
    TransferSerializer,
)
from accounts.models import MANAGING_ROLES, Invitation, Membership, Role, Team


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("The team's rules do not allow this change.")


class Gone(APIException):
    status_code = status.HTTP_410_GONE
    default_detail = _("This invitation can no longer be used.")


class MailUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = services.INVITATION_NOT_SENT


def as_api_error(error: Exception) -> Exception:
    """The services' refusals as the API's answers."""
    if isinstance(error, services.NotAllowed | services.InvitationWrongUser):
        return PermissionDenied(str(error))
    if isinstance(error, services.MembershipRefused):
        return Conflict(str(error))
    if isinstance(error, services.InvitationGone):
        return Gone(str(error))
    if isinstance(error, services.InvitationNotFound):
        return NotFound(str(error))
    if isinstance(error, services.InvitationNotSent):
        return MailUnavailable(str(error))
    if isinstance(error, DjangoValidationError):
        return ValidationError(
            error.message_dict if hasattr(error, "error_dict") else error.messages
        )
    return error


class ServiceErrors:
    def handle_exception(self, exc: Exception) -> Response:
        return super().handle_exception(as_api_error(exc))


class TeamRoles(BasePermission):
    """Members read a team; owners and admins change its settings; owners delete it and hand it
    over."""

    OWNER_ACTIONS = {"destroy", "transfer_ownership"}

    def has_object_permission(self, request: Request, view: APIView, team: Team) -> bool:
        if request.method in SAFE_METHODS:
            return True
        if view.action in self.OWNER_ACTIONS:
            self.message = services.OWNERS_ONLY
            return team.my_role == Role.OWNER
        self.message = services.MANAGERS_ONLY
        return team.my_role in MANAGING_ROLES


class TeamViewSet(ServiceErrors, viewsets.ModelViewSet):
    """The user's teams, each with the user's `role` in it. Creating one makes its creator the
    owner."""

    serializer_class = TeamSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    permission_classes = [IsAuthenticated, TeamRoles]

    def get_queryset(self) -> QuerySet[Team]:
        return selectors.teams_of(self.request.user)

    def perform_create(self, serializer: TeamSerializer) -> None:
        team = services.team_create(creator=self.request.user, **serializer.validated_data)
        team.my_role = Role.OWNER
        serializer.instance = team

    def perform_update(self, serializer: TeamSerializer) -> None:
        services.team_update(
            team=serializer.instance, by=self.request.user, **serializer.validated_data
        )

    def perform_destroy(self, team: Team) -> None:
        services.team_delete(team=team, by=self.request.user)

    @action(detail=True, methods=["post"], url_path="transfer-ownership")
    def transfer_ownership(self, request: Request, pk: str) -> Response:
        """POST {"user": id}: that member becomes an owner; you stay on as an admin."""
        team = self.get_object()
        body = TransferSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        to = team.memberships.filter(user_id=body.validated_data["user"]).first()
        if to is None:
            raise ValidationError({"user": [_("Choose a member of the team.")]})
        services.team_transfer_ownership(team=team, by=request.user, to=to)
        return Response(TeamSerializer(selectors.team_of(request.user, team.pk)).data)


class TeamScoped:
    """A view under /api/teams/{team_pk}/: the team must be the user's, else 404."""

    @property
    def team(self) -> Team:
        if not hasattr(self, "_team"):
            team = selectors.team_of(self.request.user, self.kwargs["team_pk"])
            if team is None:
                raise NotFound(_("No such team."))
            self._team = team
        return self._team


class ManagesTeam(BasePermission):
    message = services.MANAGERS_ONLY

    def has_permission(self, request: Request, view: APIView) -> bool:
        return view.team.my_role in MANAGING_ROLES


class MemberViewSet(
    ServiceErrors,
    TeamScoped,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """A team's members, by user id. PATCH {"role": ...} changes a role; DELETE removes a member,
    or, on yourself, leaves the team."""

    serializer_class = MemberSerializer
    http_method_names = ["get", "patch", "delete", "head", "options"]
    lookup_field = "user_id"
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[Membership]:
        return selectors.team_members(self.team)

    def partial_update(self, request: Request, *args: object, **kwargs: object) -> Response:
        if self.team.my_role not in MANAGING_ROLES:
            raise PermissionDenied(services.MANAGERS_ONLY)
        return super().partial_update(request, *args, **kwargs)

    def perform_update(self, serializer: MemberSerializer) -> None:
        services.member_set_role(
            membership=serializer.instance,
            role=serializer.validated_data["role"],
            by=self.request.user,
        )

    def perform_destroy(self, membership: Membership) -> None:
        services.member_remove(membership=membership, by=self.request.user)


class InvitationViewSet(
    ServiceErrors,
    TeamScoped,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """A team's pending invitations, for its owners and admins. POST {email, role} sends one by
    e-mail (503 if the e-mail cannot be sent: nothing is kept); DELETE revokes one."""

    serializer_class = InvitationSerializer
    permission_classes = [IsAuthenticated, ManagesTeam]

    def get_queryset(self) -> QuerySet[Invitation]:
        if self.action == "list":
            return selectors.pending_invitations(self.team)
        return Invitation.objects.filter(team=self.team, accepted_at__isnull=True)

    def perform_create(self, serializer: InvitationSerializer) -> None:
        serializer.instance = services.invitation_send(
            team=self.team, by=self.request.user, request=self.request, **serializer.validated_data
        )

    def perform_destroy(self, invitation: Invitation) -> None:
        services.invitation_revoke(invitation=invitation, by=self.request.user)


class InvitationAcceptView(ServiceErrors, APIView):
    """POST: the signed-in user, whose e-mail address the invitation was sent to, joins the
    team; answers the team. 410 once used or expired, 403 for another address."""

    def post(self, request: Request, token: str) -> Response:
        membership = services.invitation_accept(token=token, user=request.user)
        return Response(TeamSerializer(selectors.team_of(request.user, membership.team_id)).data)
