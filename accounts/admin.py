"""Teams in Django's admin, where the site's staff set a team's quotas and audio retention.

Memberships and invitations are shown, not changed here: a role changes through
accounts.services (which keeps an owner and tells open sockets), and an invitation's link exists
only in its e-mail (the admin shows the token's hash, never a token). API tokens are listed by
user and a key prefix, never added or shown whole."""

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from rest_framework.authtoken.models import TokenProxy

from accounts.models import Invitation, Membership, Team


class ReadOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class MembershipInline(ReadOnlyMixin, admin.TabularInline):
    model = Membership
    fields = ["user", "role", "joined_at"]
    readonly_fields = fields
    can_delete = False
    extra = 0


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "members",
        "monthly_audio_hours",
        "storage_gb",
        "audio_retention_days",
        "created_at",
    ]
    search_fields = ["name"]
    inlines = [MembershipInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Team]:
        return super().get_queryset(request).annotate(member_count=Count("memberships"))

    @admin.display(ordering="member_count")
    def members(self, team: Team) -> int:
        return team.member_count


@admin.register(Membership)
class MembershipAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["user", "team", "role", "joined_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "team__name"]

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Deleting one revokes its link."""

    list_display = ["email", "team", "role", "invited_by", "expires_at", "accepted_at"]
    list_filter = ["role"]
    search_fields = ["email", "team__name"]
    readonly_fields = ["token_hash"]


admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class TokenAdmin(admin.ModelAdmin):
    """A list only, by user and a prefix of the key: the key is the token's primary key, so any
    page of one token (change, delete, history, and the links to them) would carry it whole.
    A user gets a token from the API, the only place it is shown; logging out revokes it."""

    list_display = ["key_prefix", "user", "created"]
    list_display_links = None
    search_fields = ["user__username"]
    ordering = ["user__username"]
    actions = None  # a row's checkbox would hold its key

    @admin.display(description="key")
    def key_prefix(self, token: TokenProxy) -> str:
        return f"{token.key[:4]}…"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return obj is None and super().has_view_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
