"""The audit log in Django's admin: listed and read, never written there."""

from django.contrib import admin
from django.http import HttpRequest

from operations.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor_name", "action", "target", "ok"]
    list_filter = ["action", "ok"]
    search_fields = ["actor_name", "target"]
    fields = readonly_fields = [
        "created_at",
        "actor",
        "actor_name",
        "action",
        "target",
        "ok",
        "result",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
