"""The team pages and the invitation page."""

from django.urls import path

from accounts import team_views as views

urlpatterns = [
    path("teams/", views.teams, name="teams"),
    path("teams/<int:pk>/", views.team, name="team"),
    path("teams/<int:pk>/settings/", views.team_settings, name="team-settings"),
    path("teams/<int:pk>/delete/", views.team_delete, name="team-delete"),
    path("teams/<int:pk>/leave/", views.team_leave, name="team-leave"),
    path("teams/<int:pk>/transfer/", views.team_transfer, name="team-transfer"),
    path("teams/<int:pk>/invitations/", views.team_invite, name="team-invite"),
    path(
        "teams/<int:pk>/invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke,
        name="team-invitation-revoke",
    ),
    path(
        "teams/<int:pk>/members/<int:user_id>/role/",
        views.member_role,
        name="team-member-role",
    ),
    path(
        "teams/<int:pk>/members/<int:user_id>/remove/",
        views.member_remove,
        name="team-member-remove",
    ),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
]
