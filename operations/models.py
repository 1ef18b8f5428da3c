from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditAction(models.TextChoices):
    """What staff may do to the workers (sent to them, operations.control) and to the queue."""

    CLEAR_CACHE = "clear_cache"
    LOAD_MODEL = "load_model"
    UNLOAD_MODEL = "unload_model"
    PAUSE = "pause"
    RESUME = "resume"
    DRAIN = "drain"
    CANCEL_JOB = "cancel_job"
    RETRY_JOB = "retry_job"


class AuditEntry(models.Model):
    """One staff action: who, what, on what, when, and what came of it (each worker's answer, or
    why it was refused). Written once by operations.actions and never changed."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # Kept when the user is deleted: the log still says who it was.
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    # A worker's name, "all workers", or "job <id>".
    target = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)
    ok = models.BooleanField()
    result = models.JSONField(default=dict)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.actor_name}: {self.action} on {self.target}"
