"""Teams arrive on a portal in use: every recording that existed stays in its uploader's personal
workspace, none becomes visible to anyone else, and nothing is lost."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from transcription import selectors
from transcription.models import Recording

BEFORE_TEAMS = [("transcription", "0004_resumable_uploads"), ("accounts", None)]


def migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


@pytest.mark.django_db(transaction=True)
def test_existing_recordings_stay_personal_and_private_to_their_uploader():
    migrate(BEFORE_TEAMS)
    old = MigrationExecutor(connection).loader.project_state(BEFORE_TEAMS[:1]).apps
    users = [old.get_model("auth", "User").objects.create(username=n) for n in ("ann", "ben")]
    for user in users:
        for i in range(3):
            recording = old.get_model("transcription", "Recording").objects.create(
                owner=user, name=f"{user.username}-{i}.wav", file=f"recordings/{user.pk}-{i}",
                size_bytes=1, container="wav", codec="pcm_s16le", sample_rate=16000, channels=1,
            )  # fmt: skip
            old.get_model("transcription", "Job").objects.create(
                recording=recording, owner=user, model="whisper-base"
            )

    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    assert Recording.objects.count() == 6
    assert not Recording.objects.filter(team__isnull=False).exists()
    assert not Recording.objects.filter(private=True).exists()
    for user in get_user_model().objects.filter(username__in=["ann", "ben"]):
        seen = {r.name for r in selectors.recordings_for(user)}
        assert seen == {f"{user.username}-{i}.wav" for i in range(3)}
        assert selectors.jobs_for(user).count() == 3
