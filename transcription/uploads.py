"""Uploads, two ways in. A multipart upload (POST /api/recordings/, bodies up to
REQUEST_MAX_BODY_MB) streams each file to a temporary file. A large file comes through the
resumable upload API instead: announced with its size, sent in chunks appended to a partial file,
then turned into a recording by moving that file into storage (never copying it)."""

from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.db import transaction
from django.db.models import Count, F, Sum
from django.utils import timezone

from accounts.models import Team
from transcription import quotas, services
from transcription.models import Job, Upload, partial_upload_path
from transcription.selectors import PERSONAL

MB = 1024 * 1024
# How much of a chunk is read from the request at once while it is appended.
COPY_BYTES = MB


class CappedTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    """Streams every file to disk (never into memory) and marks the ones over the size cap.

    An oversized file is not aborted for the whole request: the other files of a multi-file
    upload are still accepted, and the view rejects this one by name with its reason.
    """

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.file.oversized = False
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.received += len(raw_data)
        if self.received > settings.MAX_UPLOAD_MB * MB:
            if not self.file.oversized:
                self.file.oversized = True
                self.file.truncate(0)
            return None
        return super().receive_data_chunk(raw_data, start)


class UploadRefused(Exception):
    """A resumable-upload request that cannot be honoured, with its reason in plain words."""


class UploadTooLarge(UploadRefused):
    """The announced file, or a chunk, is larger than allowed."""


class UploadQuotaExceeded(UploadRefused):
    """The user's unfinished uploads already hold as much as they may."""


class ChunkPastEnd(UploadRefused):
    """The chunk would make the file longer than its announced size."""


class OffsetMismatch(UploadRefused):
    """The chunk does not start where the upload stands; `offset` is where it does."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"The upload is at byte {offset}: send the chunk that starts there.")
        self.offset = offset


def upload_create(
    *, owner: AbstractBaseUser, name: str, size: int, team: Team | None = None
) -> Upload:
    """Announce a file of `size` bytes, for the personal workspace or `team`; its chunks follow.
    A user's unfinished uploads are bounded in number and in announced bytes, so that nobody
    fills the disk; and a file the workspace has no storage left for, or any file in a month
    with no hours left, is refused before a byte is sent (quotas.QuotaExceeded). Its length is
    judged once it is complete."""
    if size > settings.MAX_UPLOAD_MB * MB:
        raise UploadTooLarge(f"the file is larger than the {settings.MAX_UPLOAD_MB} MB limit")
    with transaction.atomic():
        # One user's announcements are counted one at a time, so two cannot both slip in.
        get_user_model().objects.select_for_update().get(pk=owner.pk)
        pending = Upload.objects.filter(owner=owner).aggregate(count=Count("pk"), bytes=Sum("size"))
        if pending["count"] >= settings.UPLOAD_PENDING_MAX_COUNT:
            raise UploadQuotaExceeded(
                f"You have {pending['count']} unfinished uploads, the most allowed: finish or "
                "cancel some first."
            )
        if (pending["bytes"] or 0) + size > settings.UPLOAD_PENDING_MAX_MB * MB:
            raise UploadQuotaExceeded(
                f"Your unfinished uploads would pass {settings.UPLOAD_PENDING_MAX_MB} MB: finish "
                "or cancel some first."
            )
        quotas.ensure_room(team or PERSONAL, owner, size_bytes=size, duration_s=None)
        upload = Upload.objects.create(
            owner=owner, name=services.upload_display_name(name), size=size
        )
        upload.path.parent.mkdir(parents=True, exist_ok=True)
        upload.path.touch()
    return upload


def upload_append(*, upload: Upload, offset: int, body: BinaryIO) -> Upload:
    """Append the chunk read from `body` at `offset`, which must be where the upload stands.

    The row is locked meanwhile, so two copies of one chunk (a retry racing the original) cannot
    both be written. A chunk that turns out too long is cut off again: the file and the row
    always agree on the upload's offset.
    """
    with transaction.atomic():
        upload = Upload.objects.select_for_update().get(pk=upload.pk)
        if offset != upload.received:
            raise OffsetMismatch(upload.received)
        upload.received += _write_chunk(upload, body)
        upload.updated_at = timezone.now()
        upload.save(update_fields=["received", "updated_at"])
    return upload


def _write_chunk(upload: Upload, body: BinaryIO) -> int:
    room = min(settings.UPLOAD_CHUNK_BYTES, upload.size - upload.received)
    written = 0
    with upload.path.open("r+b") as partial:
        # Bytes past the offset are the rest of an earlier chunk that was never committed.
        partial.seek(upload.received)
        partial.truncate()
        while piece := body.read(COPY_BYTES):
            written += len(piece)
            if written > room:
                partial.truncate(upload.received)
                raise _too_long(upload, room)
            partial.write(piece)
    return written


def _too_long(upload: Upload, room: int) -> UploadRefused:
    if room == settings.UPLOAD_CHUNK_BYTES:
        return UploadTooLarge(f"A chunk may hold at most {settings.UPLOAD_CHUNK_BYTES} bytes.")
    return ChunkPastEnd(f"The chunk goes past the announced size: {room} bytes are left to send.")


def upload_delete(*, upload: Upload) -> None:
    Upload.objects.filter(pk=upload.pk).delete()
    upload.path.unlink(missing_ok=True)


def recordings_create_from_uploads(
    *,
    owner: AbstractBaseUser,
    uploads: Iterable[Upload],
    options: services.JobRequest,
    placement: services.Placement | None = None,
) -> tuple[list[Job], list[services.Rejection]]:
    """Turn finished uploads into recordings with queued jobs, as a multipart upload would be.

    Each upload is taken by deleting its row (so a second request naming it finds nothing) and
    its partial file is moved into storage. An unfinished upload is rejected and kept, to be
    resumed; a finished one whose file is refused goes with its reason.
    """
    taken, rejected = [], []
    for upload in uploads:
        if not upload.is_complete:
            reason = f"the upload is not finished ({upload.received} of {upload.size} bytes)"
            rejected.append(services.Rejection(file=upload.name, reason=reason))
        elif Upload.objects.filter(pk=upload.pk, received=F("size")).delete()[0]:
            taken.append(upload)
        else:
            reason = "the upload was already used, or cancelled"
            rejected.append(services.Rejection(file=upload.name, reason=reason))
    if not taken:
        return [], rejected
    try:
        jobs, refused = services.recordings_create(
            owner=owner, files=_as_uploaded_files(taken), options=options, placement=placement
        )
    finally:
        for upload in taken:
            upload.path.unlink(missing_ok=True)  # a refused file; a stored one was moved away
    return jobs, rejected + refused


class _PartialFile(UploadedFile):
    """A finished upload's file, handed over as Django's upload handlers hand a file kept on
    disk: FileSystemStorage moves a file that has temporary_file_path() instead of copying it."""

    def __init__(self, upload: Upload) -> None:
        super().__init__(upload.path.open("rb"), name=upload.name, size=upload.size)
        self._path = upload.path

    def temporary_file_path(self) -> str:
        return str(self._path)


def _as_uploaded_files(uploads: list[Upload]) -> Iterator[UploadedFile]:
    # One at a time: recordings_create closes each file before the next is opened.
    for upload in uploads:
        yield _PartialFile(upload)


def uploads_expire() -> int:
    """Remove the uploads untouched for UPLOAD_EXPIRY_HOURS with their partial files, and any
    partial file as old whose row is gone (its owner deleted). Returns how many uploads went."""
    cutoff = timezone.now() - timedelta(hours=settings.UPLOAD_EXPIRY_HOURS)
    removed = 0
    for upload_id in Upload.objects.filter(updated_at__lt=cutoff).values_list("pk", flat=True):
        # Conditional: a chunk that arrived meanwhile keeps the upload.
        if Upload.objects.filter(pk=upload_id, updated_at__lt=cutoff).delete()[0]:
            partial_upload_path(upload_id).unlink(missing_ok=True)
            removed += 1
    folder = Path(settings.PARTIAL_UPLOADS_DIR)
    if folder.is_dir():
        known = {str(pk) for pk in Upload.objects.values_list("pk", flat=True)}
        for path in folder.glob("*.part"):
            if path.stem not in known and path.stat().st_mtime < cutoff.timestamp():
                path.unlink(missing_ok=True)
    return removed
