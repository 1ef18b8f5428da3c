"""What the recordings do when the teams they live in change (accounts knows nothing of them)."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from accounts.models import Team
from accounts.services import memberships_changed
from transcription import progress, services


@receiver(memberships_changed)
def follow_memberships(sender: type, user: AbstractBaseUser, **kwargs: object) -> None:
    progress.workspaces_changed(user.pk)


@receiver(pre_delete, sender=Team)
def delete_team_recordings(sender: type, instance: Team, **kwargs: object) -> None:
    """A deleted team's recordings go with it, their stored audio too (a cascade alone would
    leave the files behind)."""
    for recording in instance.recordings.all():
        services.recording_delete(recording=recording)
