"""The teams API, under /api/ in the api namespace."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from accounts.api.teams import InvitationAcceptView, InvitationViewSet, MemberViewSet, TeamViewSet

TEAM = r"teams/(?P<team_pk>[0-9]+)"

router = SimpleRouter()
router.register("teams", TeamViewSet, basename="team")
router.register(f"{TEAM}/members", MemberViewSet, basename="team-member")
router.register(f"{TEAM}/invitations", InvitationViewSet, basename="team-invitation")

urlpatterns = [
    path(
        "invitations/<str:token>/accept/",
        InvitationAcceptView.as_view(),
        name="invitation-accept",
    ),
    *router.urls,
]
