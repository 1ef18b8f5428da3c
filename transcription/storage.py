"""The worker's side of stored audio, through Django's storage API whichever storage it is: the
local disk (one machine) or an S3-compatible bucket (workers on other hosts, which do not see the
web host's disk)."""

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db.models.fields.files import FieldFile

COPY_CHUNK_BYTES = 8 * 1024 * 1024


@contextlib.contextmanager
def scratch_dir() -> Iterator[Path]:
    """A folder of this worker's (under FILE_UPLOAD_TEMP_DIR, else the system's) for temporary
    files, removed with all it holds on leaving, whatever happens."""
    with tempfile.TemporaryDirectory(prefix="voxa-", dir=settings.FILE_UPLOAD_TEMP_DIR) as folder:
        yield Path(folder)


@contextlib.contextmanager
def local_copy(stored: FieldFile) -> Iterator[Path]:
    """`stored` as a file on this machine: the storage's own path on the local disk (a 2 GB
    original is not copied), else a temporary copy fetched in chunks and removed on leaving
    (success, failure, cancel or a lost claim alike)."""
    try:
        path = Path(stored.path)
    except NotImplementedError:  # object storage has no local path
        path = None
    if path is not None:
        yield path
        return
    with scratch_dir() as scratch:
        copy = scratch / Path(stored.name).name
        with stored.storage.open(stored.name, "rb") as source, copy.open("wb") as target:
            shutil.copyfileobj(source, target, COPY_CHUNK_BYTES)
        yield copy
