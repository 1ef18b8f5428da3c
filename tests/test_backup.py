"""manage.py backup: a database dump that restores into an empty database with every transcript,
and a manifest (optionally a copy) of the stored media."""

import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import psycopg2
import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import connection

from tests.conftest import REPO
from tests.factories import RecordingFactory, SucceededJobFactory, UserFactory
from transcription.models import Job, Recording

# pg_dump reads committed rows only: the data must be committed, not inside a test transaction.
pytestmark = pytest.mark.django_db(transaction=True)

Transcripts = dict[int, list[tuple[int, float, float, str]]]


@pytest.fixture
def transcripts() -> Transcripts:
    """Succeeded jobs of two users, one on real audio, one with a browser-playable copy."""
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    jobs = [
        SucceededJobFactory(recording__owner=alice),
        SucceededJobFactory(
            recording__owner=alice,
            recording__audio="zh_aishell_BAC009S0724W0121.wav",
            segments=["广州市房地产中介协会分析"],
        ),
        SucceededJobFactory(
            recording__owner=bob,
            recording__playback_file=ContentFile(b"a playable copy", name="copy.m4a"),
            segments=["One.", "Two.", "Three."],
        ),
    ]
    return {
        job.id: list(job.segments.order_by("index").values_list("index", "start", "end", "text"))
        for job in jobs
    }


def only_backup_in(folder: Path) -> Path:
    (backup,) = folder.iterdir()
    return backup


@contextmanager
def restored(dump: Path) -> Iterator[psycopg2.extensions.cursor]:
    """The dump restored with pg_restore into a new, empty database (dropped afterwards)."""
    db = connection.settings_dict
    name = f"{db['NAME']}_restored"
    credentials = {k.lower(): db[k] for k in ("USER", "PASSWORD", "HOST", "PORT")}
    with closing(psycopg2.connect(dbname="postgres", **credentials)) as server:
        server.autocommit = True
        server.cursor().execute(f'DROP DATABASE IF EXISTS "{name}"')
        server.cursor().execute(f'CREATE DATABASE "{name}"')
        try:
            subprocess.run(
                ["pg_restore", "--no-owner", "--exit-on-error", "--dbname", name, str(dump)],
                env={
                    **os.environ,
                    "PGHOST": db["HOST"],
                    "PGPORT": str(db["PORT"]),
                    "PGUSER": db["USER"],
                    "PGPASSWORD": db["PASSWORD"],
                },
                check=True,
            )
            with closing(psycopg2.connect(dbname=name, **credentials)) as database:
                yield database.cursor()
        finally:
            server.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_backup_restored_into_an_empty_database_has_every_transcript(
    transcripts, tmp_path, settings
):
    settings.DATA_DIR = tmp_path
    out = io.StringIO()
    call_command("backup", stdout=out)
    backup = only_backup_in(tmp_path / "backups")
    assert str(backup) in out.getvalue()

    with restored(backup / "database.dump") as cursor:
        cursor.execute(
            'SELECT job_id, index, start, "end", text FROM transcription_segment'
            " ORDER BY job_id, index"
        )
        segments = cursor.fetchall()
        cursor.execute(
            "SELECT job.id, job.status, account.username FROM transcription_job job"
            " JOIN auth_user account ON account.id = job.owner_id ORDER BY job.id"
        )
        jobs = cursor.fetchall()

    assert {
        job: [row[1:] for row in segments if row[0] == job] for job in transcripts
    } == transcripts
    assert len(segments) == sum(len(lines) for lines in transcripts.values())
    assert jobs == list(Job.objects.order_by("id").values_list("id", "status", "owner__username"))
    assert [owner for _, _, owner in jobs] == ["alice", "alice", "bob"]


def test_the_manifest_names_every_stored_file_and_media_copies_them(transcripts, tmp_path):
    gone = RecordingFactory()
    gone.file.storage.delete(gone.file.name)
    expected = {}
    for recording in Recording.objects.exclude(id=gone.id):
        for stored in (recording.file, recording.playback_file):
            if stored:
                with stored.open("rb") as handle:
                    expected[stored.name] = hashlib.sha256(handle.read()).hexdigest()
    assert len(expected) == 4

    call_command("backup", "--output", str(tmp_path), "--media", stdout=io.StringIO())
    backup = only_backup_in(tmp_path)
    manifest = json.loads((backup / "manifest.json").read_text())

    files = manifest["media"]["files"]
    assert {f["name"]: f["sha256"] for f in files} == expected
    assert manifest["media"]["missing"] == [gone.file.name]
    assert manifest["database"] == {"engine": "postgresql", "file": "database.dump"}
    for f in files:
        copy = (backup / "media" / f["name"]).read_bytes()
        assert (len(copy), hashlib.sha256(copy).hexdigest()) == (f["size"], f["sha256"])


def test_an_sqlite_backup_is_a_copy_holding_every_transcript(tmp_path):
    # The SQLite path runs in a portal of its own: this test session's database is PostgreSQL.
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'voxa.sqlite3'}",
        "DATA_DIR": str(tmp_path),
        "MEDIA_ROOT": str(tmp_path / "media"),
    }

    def manage(*args: str) -> None:
        subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, check=True)

    manage("migrate", "-v0")
    manage(
        "shell",
        "-v0",
        "-c",
        "from django.core.management import call_command;"
        "from tests.factories import SucceededJobFactory;"
        "SucceededJobFactory(segments=['Hello.', 'World.']);"
        "SucceededJobFactory(segments=['广州市房地产中介协会分析']);"
        "call_command('backup')",
    )

    backup = only_backup_in(tmp_path / "backups")
    with closing(sqlite3.connect(backup / "database.sqlite3")) as copy:
        texts = copy.execute('SELECT text FROM transcription_segment ORDER BY job_id, "index"')
        assert [text for (text,) in texts] == ["Hello.", "World.", "广州市房地产中介协会分析"]
    manifest = json.loads((backup / "manifest.json").read_text())
    assert len(manifest["media"]["files"]) == 2
