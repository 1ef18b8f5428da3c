"""Editing a finished transcript: every change a Revision, every save made on a version.

Each change runs in one transaction with the job's row locked, so two saves made on the same
version are taken one after the other: the first wins, the second finds the version moved on and
is refused (StaleVersion, which the API answers 409), naming what changed meanwhile. A change
rewrites the Segment rows (what the page, search and every export read), keeps `job.text` in
step, bumps `job.transcript_version` and records who changed what, with the whole transcript
before and after it (`snapshot`), so that any earlier state can be restored exactly.
"""

from collections.abc import Callable

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F

from gpu_engine.types import join_texts
from transcription.models import Job, JobStatus, Revision, RevisionAction, Segment

MAX_NAME_LENGTH = 100
MAX_LABEL_LENGTH = Segment._meta.get_field("speaker").max_length
# Texts quoted in a revision's summary are cut to this many characters.
QUOTE_CHARS = 60

# {"speakers": {label: name}, "segments": [[start, end, speaker, text], ...]}
Snapshot = dict
EMPTY: Snapshot = {"speakers": {}, "segments": []}


class EditError(Exception):
    """A change that was not made; its message says why, in words for people."""


class EditRefused(EditError):
    """The change itself makes no sense (an empty text, a label that does not exist): 400."""


class NoSuchSegment(EditError):
    """The line is not (or no longer) in this transcript: 404."""


class NotEditable(EditError):
    """The job has no transcript to edit now (it is queued, running, failed...): 409."""


class StaleVersion(EditError):
    """The save was made on another version than the current one: 409, nothing changed."""

    def __init__(self, *, made_on: int, current: int, changes: list[str]) -> None:
        self.made_on, self.current, self.changes = made_on, current, changes
        if changes:
            what = "; ".join(changes)
            message = f"The transcript changed since version {made_on} (now {current}): {what}."
        else:
            message = f"Version {made_on} is not the transcript's version (now {current})."
        super().__init__(message + " Reload it and make the change again.")


def snapshot(job: Job) -> Snapshot:
    """The whole transcript as it stands in the database: speaker names and lines in order."""
    return {
        "speakers": dict(job.speaker_names),
        "segments": [
            [start, end, speaker, text]
            for start, end, speaker, text in job.segments.order_by("index").values_list(
                "start", "end", "speaker", "text"
            )
        ],
    }


def speaker_labels(job: Job) -> list[str]:
    """Every label the transcript knows: those its lines carry, in order of first appearance,
    then named ones no line has (any more)."""
    in_lines = job.segments.exclude(speaker="").order_by("index").values_list("speaker", flat=True)
    return list(dict.fromkeys([*in_lines, *job.speaker_names]))


# A change: applied to the locked job's rows, it answers its summary, or None when it changes
# nothing (no revision is written then).
Change = Callable[[Job], str | None]


def _edit(
    *, job: Job, version: int, author: AbstractBaseUser | None, action: str, change: Change
) -> Job:
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        _check_editable(locked, version)
        before = snapshot(locked)
        summary = change(locked)
        if summary is not None:
            _record(locked, author=author, action=action, summary=summary, before=before)
    return locked


def _check_editable(job: Job, version: int) -> None:
    if job.status != JobStatus.SUCCEEDED:
        raise NotEditable(
            f"The job is {job.status}: its transcript can be edited once it has succeeded."
        )
    if version != job.transcript_version:
        since = job.revisions.filter(version__gt=version).order_by("version")
        raise StaleVersion(
            made_on=version,
            current=job.transcript_version,
            changes=list(since.values_list("summary", flat=True)),
        )


def _record(
    job: Job, *, author: AbstractBaseUser | None, action: str, summary: str, before: Snapshot
) -> None:
    job.text = join_texts(job.segments.order_by("index").values_list("text", flat=True))
    job.transcript_version += 1
    job.save(update_fields=["text", "speaker_names", "transcript_version"])
    Revision.objects.create(
        job=job,
        version=job.transcript_version,
        author=author,
        action=action,
        summary=summary[:255],
        before=before,
        after=snapshot(job),
    )


def _segment(job: Job, segment_id: int) -> Segment:
    segment = job.segments.filter(pk=segment_id).first()
    if segment is None:
        raise NoSuchSegment(f"Line {segment_id} is not in this transcript.")
    return segment


def _quote(text: str) -> str:
    return f'"{text[:QUOTE_CHARS]}…"' if len(text) > QUOTE_CHARS else f'"{text}"'


def _who(label: str, names: dict[str, str]) -> str:
    """A speaker in a summary: its label, and its name where it has one."""
    return f"{label} ({_quote(names[label])})" if names.get(label) else label


def _label(job: Job, label: str) -> str:
    if label not in speaker_labels(job):
        raise EditRefused(f"There is no speaker {label!r} in this transcript.")
    return label


def segment_edit_text(
    *, job: Job, segment_id: int, version: int, text: str, author: AbstractBaseUser | None = None
) -> Job:
    """The line's words, in place; its times and speaker stay. An empty text is refused: a line
    goes by joining it with its neighbour, so that its time stays with words."""
    text = text.strip()
    if not text:
        raise EditRefused("A line cannot be empty; join it with the next one instead.")

    def change(locked: Job) -> str | None:
        segment = _segment(locked, segment_id)
        if segment.text == text:
            return None
        before, segment.text = segment.text, text
        segment.save(update_fields=["text"])
        return f"edited line {segment.index + 1}: {_quote(before)} → {_quote(text)}"

    return _edit(
        job=job, version=version, author=author, action=RevisionAction.EDIT_TEXT, change=change
    )


def segment_reassign(
    *, job: Job, segment_id: int, version: int, speaker: str, author: AbstractBaseUser | None = None
) -> Job:
    """The line to another speaker: one the transcript has, or a new label (unnamed)."""
    speaker = speaker.strip()
    if not speaker or len(speaker) > MAX_LABEL_LENGTH:
        raise EditRefused(f"A speaker's label is 1 to {MAX_LABEL_LENGTH} characters.")

    def change(locked: Job) -> str | None:
        segment = _segment(locked, segment_id)
        if segment.speaker == speaker:
            return None
        names = locked.speaker_names
        before = _who(segment.speaker, names) if segment.speaker else "no speaker"
        names.setdefault(speaker, "")
        segment.speaker = speaker
        segment.save(update_fields=["speaker"])
        return f"line {segment.index + 1} from {before} to {_who(speaker, names)}"

    return _edit(
        job=job,
        version=version,
        author=author,
        action=RevisionAction.REASSIGN_SPEAKER,
        change=change,
    )


def segment_update(
    *,
    job: Job,
    segment_id: int,
    version: int,
    text: str | None = None,
    speaker: str | None = None,
    author: AbstractBaseUser | None = None,
) -> Job:
    """PATCH of a line: its text, its speaker, or both (two revisions, made together)."""
    if text is None and speaker is None:
        raise EditRefused("Give the line's new text, its speaker, or both.")
    with transaction.atomic():
        if text is not None:
            job = segment_edit_text(
                job=job, segment_id=segment_id, version=version, text=text, author=author
            )
            version = job.transcript_version
        if speaker is not None:
            job = segment_reassign(
                job=job, segment_id=segment_id, version=version, speaker=speaker, author=author
            )
    return job


def segment_split(
    *, job: Job, segment_id: int, version: int, at: int, author: AbstractBaseUser | None = None
) -> Job:
    """The line in two at character `at` of its text, strictly inside it; both keep its speaker.

    The words' own times are not stored, so the time at the split is proportional to the
    characters before it: `at` characters into a line of n take at/n of its duration.
    """

    def change(locked: Job) -> str:
        segment = _segment(locked, segment_id)
        first, second = segment.text[:at].rstrip(), segment.text[at:].lstrip()
        if not 0 < at < len(segment.text) or not first or not second:
            raise EditRefused(
                f"Split inside the line's words: at 1 to {len(segment.text) - 1} characters, "
                "with words on both sides."
            )
        split_time = segment.start + (segment.end - segment.start) * at / len(segment.text)
        _shift_after(locked, segment.index, by=1)
        Segment.objects.create(
            job=locked,
            index=segment.index + 1,
            start=split_time,
            end=segment.end,
            speaker=segment.speaker,
            text=second,
        )
        segment.text, segment.end = first, split_time
        segment.save(update_fields=["text", "end"])
        return (
            f"split line {segment.index + 1} at {split_time:.2f} s (proportional to characters): "
            f"{_quote(first)} | {_quote(second)}"
        )

    return _edit(
        job=job, version=version, author=author, action=RevisionAction.SPLIT, change=change
    )


def segment_join(
    *, job: Job, segment_id: int, version: int, author: AbstractBaseUser | None = None
) -> Job:
    """The line and the next one as one line, from the first's start to the second's end. Lines
    of two speakers joined keep the first's speaker (the summary says so)."""

    def change(locked: Job) -> str:
        segment = _segment(locked, segment_id)
        following = locked.segments.filter(index=segment.index + 1).first()
        if following is None:
            raise EditRefused("This is the last line: there is no next line to join it with.")
        segment.text = join_texts([segment.text, following.text])
        segment.end = max(segment.end, following.end)
        summary = f"joined lines {segment.index + 1} and {segment.index + 2}"
        if following.speaker != segment.speaker:
            names = locked.speaker_names
            dropped = _who(following.speaker, names) if following.speaker else "no speaker"
            kept = _who(segment.speaker, names) if segment.speaker else "no speaker"
            summary += f" (line {segment.index + 2} was {dropped}; the line keeps {kept})"
        following.delete()
        segment.save(update_fields=["text", "end"])
        _shift_after(locked, segment.index, by=-1)
        return summary

    return _edit(job=job, version=version, author=author, action=RevisionAction.JOIN, change=change)


def _shift_after(job: Job, index: int, *, by: int) -> None:
    """Renumber the lines after `index` by `by`. PostgreSQL checks (job, index) unique row by row,
    so they first move clear of every index in use, then to their place."""
    later = job.segments.filter(index__gt=index)
    clear = job.segments.count() + 1
    later.update(index=F("index") + clear + by)
    job.segments.filter(index__gte=clear).update(index=F("index") - clear)


def speaker_rename(
    *, job: Job, version: int, speaker: str, name: str, author: AbstractBaseUser | None = None
) -> Job:
    """One name for the speaker across the whole transcript; "" takes the name away."""
    name = name.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise EditRefused(f"A speaker's name is at most {MAX_NAME_LENGTH} characters.")

    def change(locked: Job) -> str | None:
        names = locked.speaker_names
        old = names.get(_label(locked, speaker), "")
        if old == name:
            return None
        names[speaker] = name
        if not name:
            return f"took the name {_quote(old)} from {speaker}"
        return f"renamed {_who(speaker, {speaker: old})} to {_quote(name)}"

    return _edit(
        job=job, version=version, author=author, action=RevisionAction.RENAME_SPEAKER, change=change
    )


def speakers_merge(
    *, job: Job, version: int, speaker: str, into: str, author: AbstractBaseUser | None = None
) -> Job:
    """Every line of `speaker` becomes `into`'s; `speaker` and its name go."""
    if speaker == into:
        raise EditRefused("A speaker cannot be merged into itself.")

    def change(locked: Job) -> str:
        names = locked.speaker_names
        merged, kept = _label(locked, speaker), _label(locked, into)
        summary = f"merged {_who(merged, names)} into {_who(kept, names)}"
        locked.segments.filter(speaker=speaker).update(speaker=into)
        names.pop(speaker, None)
        names.setdefault(into, "")
        return summary

    return _edit(
        job=job, version=version, author=author, action=RevisionAction.MERGE_SPEAKERS, change=change
    )


def revision_state(job: Job, to: int) -> Snapshot:
    """The transcript right after revision `to`; 0: as recognised, before the first change."""
    if to == 0:
        first = job.revisions.order_by("version").first()
        return first.before if first else snapshot(job)
    revision = job.revisions.filter(version=to).first()
    if revision is None:
        raise EditRefused(f"There is no version {to} of this transcript.")
    return revision.after


def transcript_restore(
    *, job: Job, version: int, to: int, author: AbstractBaseUser | None = None
) -> Job:
    """The transcript exactly as it was at version `to` (lines, times, speakers, names); the
    restore is itself a revision, so it can be undone like any other."""

    def change(locked: Job) -> str:
        if to >= locked.transcript_version:
            raise EditRefused(
                f"Restore an earlier version: 0 to {locked.transcript_version - 1}."
                if locked.transcript_version
                else "The transcript has not been changed: there is no earlier version."
            )
        _write(locked, revision_state(locked, to))
        return f"restored version {to}" if to else "restored the transcript as recognised"

    return _edit(
        job=job, version=version, author=author, action=RevisionAction.RESTORE, change=change
    )


def _write(job: Job, state: Snapshot) -> None:
    job.segments.all().delete()
    Segment.objects.bulk_create(
        Segment(job=job, index=i, start=start, end=end, speaker=speaker, text=text)
        for i, (start, end, speaker, text) in enumerate(state["segments"])
    )
    job.speaker_names = dict(state["speakers"])


def keep_for_rerun(*, job: Job, author: AbstractBaseUser | None = None) -> None:
    """Before the job runs again: its current transcript becomes a "rerun" revision, to be
    restored later, and the job starts afresh at the next version. The run's result becomes
    that revision's `after` (`rerun_finished`). Call inside the retry's transaction; `job` is
    brought up to date with the locked row."""
    locked = Job.objects.select_for_update().get(pk=job.pk)
    job.transcript_version, job.speaker_names = locked.transcript_version, {}
    if locked.status != JobStatus.SUCCEEDED or not locked.segments.exists():
        return
    job.transcript_version += 1
    Revision.objects.create(
        job=job,
        version=job.transcript_version,
        author=author,
        action=RevisionAction.RERUN,
        summary="ran the job again; the transcript before it is kept here",
        before=snapshot(locked),
        after=EMPTY,
    )


def rerun_finished(*, job: Job) -> None:
    """A rerun's transcript is the state right after its revision (restorable like any)."""
    stored = Job.objects.get(pk=job.pk)  # with the speaker names the worker set
    stored.revisions.filter(version=stored.transcript_version, action=RevisionAction.RERUN).update(
        after=snapshot(stored)
    )
