from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from operations.backup import BackupError, create_backup


class Command(BaseCommand):
    help = (
        "Back up the database (pg_dump on PostgreSQL, SQLite's backup API otherwise) and a "
        "manifest of the stored media (name, size, sha256) into a timestamped folder."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--output", type=Path, help="folder to write the backup in (default: DATA_DIR/backups)"
        )
        parser.add_argument("--media", action="store_true", help="copy the stored media files too")

    def handle(self, *args, output: Path | None, media: bool, **options) -> None:
        try:
            backup = create_backup(destination=output, copy_media=media)
        except BackupError as error:
            raise CommandError(str(error)) from None
        size = sum(f.size for f in backup.files)
        copied = "copied" if media else "listed"
        self.stdout.write(
            self.style.SUCCESS(
                f"Backup written to {backup.folder}: {backup.database.name}, "
                f"{len(backup.files)} media files ({size / 1e6:.1f} MB) {copied} in manifest.json"
            )
        )
        if backup.missing:
            self.stderr.write(
                f"{len(backup.missing)} files named by recordings are missing from the storage "
                "(listed in manifest.json)."
            )
