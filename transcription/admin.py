from django.contrib import admin

from transcription.models import Job, Recording, Segment


@admin.register(Recording)
class RecordingAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "duration_s", "created_at"]
    search_fields = ["name", "owner__username"]


class SegmentInline(admin.TabularInline):
    model = Segment
    extra = 0


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["pk", "recording", "owner", "status", "stage", "progress", "model", "attempts"]
    list_filter = ["status", "model"]
    inlines = [SegmentInline]
