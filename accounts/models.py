"""Teams: shared workspaces, their members and roles, and invitations to join them.

Every user also has a personal workspace, which is no row at all: a recording without a team is
its uploader's alone.
"""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

INVITATION_TTL = timedelta(days=7)


class Role(models.TextChoices):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


# Owners and admins steer a team's recordings and members; members read and upload.
MANAGING_ROLES = (Role.OWNER, Role.ADMIN)


class Team(models.Model):
    name = models.CharField(max_length=100)
    # What the upload page preselects in this team; blank model: the site's default.
    default_model = models.CharField(max_length=64, blank=True)
    default_language = models.CharField(max_length=16, default="auto")
    default_itn = models.BooleanField(default=True)
    # Whether the upload page asks to identify the speakers of this team's recordings.
    default_identify_speakers = models.BooleanField(default=False)
    # The audio of older recordings is deleted (their transcripts stay); null: kept for ever.
    audio_retention_days = models.PositiveIntegerField(null=True, blank=True)
    # Limits set by the site's staff; null: unlimited.
    monthly_audio_hours = models.FloatField(null=True, blank=True)
    storage_gb = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["team", "joined_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="one_membership_per_team")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"

    @property
    def is_manager(self) -> bool:
        return self.role in MANAGING_ROLES


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Invitation(models.Model):
    """A one-time link to join a team with a role. Only the token's hash is stored: the link is
    in the e-mail alone."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.MEMBER)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.email} to {self.team} ({self.role})"

    @classmethod
    def issue(cls, *, team: Team, email: str, role: str, invited_by) -> tuple["Invitation", str]:
        """A new invitation and its token, which is shown once (in the link) and never stored."""
        token = secrets.token_urlsafe(32)
        invitation = cls.objects.create(
            team=team,
            email=email,
            role=role,
            token_hash=hash_token(token),
            invited_by=invited_by,
            expires_at=timezone.now() + INVITATION_TTL,
        )
        return invitation, token

    @property
    def is_expired(self) -> bool:
        return timezone.now() >= self.expires_at

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and not self.is_expired


class Preferences(models.Model):
    """What a user chose for the pages: kept per user, so it follows them to any browser. Blank:
    what their browser says (its language, its time zone)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferences"
    )
    language = models.CharField(max_length=16, blank=True)
    time_zone = models.CharField(max_length=64, blank=True)
    # An e-mail when a job of theirs that ran at least this long ends; null: no e-mails.
    email_after_minutes = models.PositiveIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Preferences of {self.user}"
