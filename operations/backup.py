"""Backups: a consistent dump of the database and a manifest of the stored media, in one folder.

The list of stored files comes from the same state of the database as the dump (on PostgreSQL
pg_dump joins the snapshot of the transaction that lists them; on SQLite they are read from the
copy), so the manifest names every file the dump refers to. The files themselves are read
through Django's storage API, wherever they are stored.
"""

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterable
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone

from transcription.models import Recording

MANIFEST = "manifest.json"
MEDIA_COPY = "media"
# The fields of a recording that name a stored file.
FILE_FIELDS = ("file", "playback_file")


class BackupError(Exception):
    """A backup that could not be made, in words for the operator."""


@dataclass(frozen=True)
class StoredFile:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Backup:
    folder: Path
    database: Path
    files: list[StoredFile]
    missing: list[str]


def create_backup(*, destination: Path | None = None, copy_media: bool = False) -> Backup:
    """Write a timestamped folder under destination (default DATA_DIR/backups): the database
    dump, manifest.json describing it and every stored file (name, size, sha256), and with
    copy_media a copy of those files under media/."""
    folder = _new_folder(destination or settings.DATA_DIR / "backups")
    try:
        database, names = _dump_database(folder)
        files, missing = _describe_files(names, folder / MEDIA_COPY if copy_media else None)
        backup = Backup(folder=folder, database=database, files=files, missing=missing)
        _write_manifest(backup, copied=copy_media)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return backup


def _new_folder(destination: Path) -> Path:
    folder = destination / f"voxa-{timezone.now():%Y%m%d-%H%M%S}"
    try:
        folder.mkdir(parents=True)
    except FileExistsError:
        raise BackupError(f"{folder} already exists: one backup a second at most.") from None
    return folder


def _dump_database(folder: Path) -> tuple[Path, list[str]]:
    """The dump, and the names of the stored files its recordings refer to."""
    if connection.vendor == "postgresql":
        with transaction.atomic():
            dump = _pg_dump(folder / "database.dump")
            rows = Recording.objects.order_by("id").values_list(*FILE_FIELDS)
            return dump, _names(rows)
    if connection.vendor == "sqlite":
        copy = _sqlite_backup(folder / "database.sqlite3")
        return copy, _names(_file_rows_in(copy))
    raise BackupError(f"Backups support PostgreSQL and SQLite, not {connection.vendor}.")


def _pg_dump(path: Path) -> Path:
    """pg_dump's custom format (pg_restore reads it), taken in this transaction's snapshot."""
    with connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute("SELECT pg_export_snapshot()")
        (snapshot,) = cursor.fetchone()
    # Django's own translation of the connection settings into libpq's options and environment
    # (password, service, SSL), as dbshell uses it.
    args, env = connection.client.settings_to_cmd_args_env(
        connection.settings_dict, ["--format=custom", f"--file={path}", f"--snapshot={snapshot}"]
    )
    try:
        subprocess.run(
            ["pg_dump", *args[1:]],
            env={**os.environ, **(env or {})},
            check=True,
            capture_output=True,
            text=True,
        )
    except FileNotFoundError:
        raise BackupError("pg_dump is not installed (apt-get install postgresql-client).") from None
    except subprocess.CalledProcessError as error:
        raise BackupError(f"pg_dump failed: {error.stderr.strip()}") from None
    return path


def _sqlite_backup(path: Path) -> Path:
    """SQLite's online backup API: a consistent copy while the portal goes on writing."""
    connection.ensure_connection()
    with closing(sqlite3.connect(path)) as target:
        connection.connection.backup(target)
    return path


def _file_rows_in(copy: Path) -> list[tuple[str, str]]:
    meta = Recording._meta
    columns = ", ".join(meta.get_field(field).column for field in FILE_FIELDS)
    with closing(sqlite3.connect(copy)) as database:
        return database.execute(
            f"SELECT {columns} FROM {meta.db_table} ORDER BY {meta.pk.column}"
        ).fetchall()


def _names(rows: Iterable[tuple[str, ...]]) -> list[str]:
    return [name for row in rows for name in row if name]


def _describe_files(names: list[str], copy_to: Path | None) -> tuple[list[StoredFile], list[str]]:
    files, missing = [], []
    for name in names:
        if not default_storage.exists(name):
            missing.append(name)
            continue
        files.append(_read_file(name, copy_to / name if copy_to else None))
    return files, missing


def _read_file(name: str, copy: Path | None) -> StoredFile:
    """Hashes a stored file in one pass, copying it on the way when asked."""
    digest, size = hashlib.sha256(), 0
    if copy:
        copy.parent.mkdir(parents=True, exist_ok=True)
    # Without a copy the bytes go to os.devnull: one loop either way.
    with default_storage.open(name, "rb") as source, (copy or Path(os.devnull)).open("wb") as out:
        for chunk in source.chunks():
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return StoredFile(name=name, size=size, sha256=digest.hexdigest())


def _write_manifest(backup: Backup, *, copied: bool) -> None:
    manifest = {
        "created_at": timezone.now().isoformat(),
        "database": {"engine": connection.vendor, "file": backup.database.name},
        "media": {
            "storage": settings.STORAGES["default"]["BACKEND"],
            "copied_to": MEDIA_COPY if copied else None,
            "files": [asdict(f) for f in backup.files],
            # Named by a recording but absent from the storage when the backup was made.
            "missing": backup.missing,
        },
    }
    (backup.folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
