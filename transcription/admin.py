"""Recordings and jobs in Django's admin. A job's state (status, stage, progress, attempts and
the claim that fences every write of its worker) changes only through the model's and the
services' transitions, so the admin shows it and never edits it; nor does it edit a job's
segments, which are its worker's result."""

from django.contrib import admin
from django.http import HttpRequest

from transcription.models import Job, Recording, Segment


@admin.register(Recording)
class RecordingAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "duration_s", "created_at"]
    search_fields = ["name", "owner__username"]


class SegmentInline(admin.TabularInline):
    model = Segment
    fields = ["index", "start", "end", "text"]
    readonly_fields = fields
    can_delete = False
    extra = 0

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["pk", "recording", "owner", "status", "stage", "progress", "model", "attempts"]
    list_filter = ["status", "model"]
    readonly_fields = [
        "status",
        "stage",
        "progress",
        "message",
        "error",
        "attempts",
        "cancel_requested",
        "cancelled_by",
        # Its place in the queue, set each time its message is sent.
        "priority",
        "queued_at",
        "worker",
        "heartbeat_at",
        "started_at",
        "finished_at",
        # The telemetry its worker measured.
        "queue_wait_s",
        "decoding_s",
        "speech_detection_s",
        "recognition_s",
        "speed_x",
        "device",
        "peak_gpu_bytes",
    ]
    inlines = [SegmentInline]
