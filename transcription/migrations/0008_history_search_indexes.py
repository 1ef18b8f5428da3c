"""Trigram indexes for the History's and /api/search/'s text search (icontains is
UPPER(column) LIKE UPPER('%...%'), which a GIN index of UPPER(column) gin_trgm_ops serves), and
one for finding a recording's latest job. The trigram ones are PostgreSQL's alone: SQLite skips
them (and they stay out of the models' state, which SQLite rebuilds tables from)."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models

# index name -> (table, column)
TRIGRAM_INDEXES = {
    "recording_name_trgm": ("transcription_recording", "name"),
    "segment_text_trgm": ("transcription_segment", "text"),
}


def add_trigram_indexes(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for index, (table, column) in TRIGRAM_INDEXES.items():
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{index}" ON "{table}" USING gin (UPPER("{column}") gin_trgm_ops)'
        )


def remove_trigram_indexes(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for index in TRIGRAM_INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{index}"')


class Migration(migrations.Migration):
    dependencies = [("transcription", "0007_speakers_and_revisions")]

    operations = [
        TrigramExtension(),
        migrations.RunPython(add_trigram_indexes, remove_trigram_indexes),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(fields=["recording", "-created_at", "-id"], name="job_latest_first"),
        ),
    ]
