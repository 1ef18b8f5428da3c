"""Uploads stream to temporary files; a file over MAX_UPLOAD_MB stops being written at the cap."""

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler


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
        if self.received > settings.MAX_UPLOAD_MB * 1024 * 1024:
            if not self.file.oversized:
                self.file.oversized = True
                self.file.truncate(0)
            return None
        return super().receive_data_chunk(raw_data, start)
