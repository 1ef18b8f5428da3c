"""Editing a transcript through the API: each change a revision that restores exactly, reaching
search and the exports; saves made on a stale version refused with 409; a rerun kept."""

import io
import json
import threading

import docx
import pytest
import srt
from django.db import close_old_connections, connection, transaction
from django.test.utils import CaptureQueriesContext

from tests.conftest import api_client_for
from tests.factories import JobFactory, SucceededJobFactory, UserFactory
from transcription import editing, services
from transcription.exports import export_job
from transcription.models import Job, JobStatus

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

LINES = [("S1", "Hello there."), ("S2", "General Kenobi."), ("S1", "You are a bold one.")]


def transcript_job(owner, lines=LINES) -> Job:
    """A finished job whose lines (2 s each, every 2.5 s) carry speaker labels."""
    job = SucceededJobFactory(recording__owner=owner, segments=[text for _, text in lines])
    for segment, (label, _) in zip(job.segments.order_by("index"), lines, strict=True):
        segment.speaker = label
        segment.save(update_fields=["speaker"])
    job.speaker_names = dict.fromkeys(dict.fromkeys(label for label, _ in lines), "")
    job.save(update_fields=["speaker_names"])
    return job


def line_id(job: Job, index: int) -> int:
    return job.segments.get(index=index).pk


def saved(api, method: str, url: str, body: dict) -> dict:
    response = getattr(api, method)(url, body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def exported(job: Job) -> dict:
    job.refresh_from_db()
    return {
        "txt": export_job(job, "txt").content,
        "srt": [
            (s.start.total_seconds(), s.end.total_seconds(), s.content)
            for s in srt.parse(export_job(job, "srt").content)
        ],
        "json": json.loads(export_job(job, "json").content),
    }


def every_export_as_text(job: Job) -> dict[str, str]:
    """What each format says, as text: DOCX's paragraphs, the others as they are."""
    job.refresh_from_db()
    texts = {fmt: export_job(job, fmt).content for fmt in ("txt", "csv", "srt", "vtt", "json")}
    document = docx.Document(io.BytesIO(export_job(job, "docx").content))
    return texts | {"docx": "\n".join(paragraph.text for paragraph in document.paragraphs)}


def test_every_change_is_a_revision_that_restores_exactly_and_reaches_the_exports(alice):
    api = api_client_for(alice)
    job = transcript_job(alice)
    base = f"/api/jobs/{job.pk}"
    first, second, third = (line_id(job, i) for i in range(3))
    changes = [
        ("post", "speakers/rename/", {"speaker": "S1", "name": "Alice"}),
        ("patch", f"segments/{second}/", {"text": "General Grievous."}),
        ("post", f"segments/{third}/split/", {"at": 8}),  # "You are " | "a bold one."
        ("post", f"segments/{first}/join/", {}),
        ("patch", f"segments/{third}/", {"speaker": "S3"}),
        ("post", "speakers/merge/", {"speaker": "S3", "into": "S2"}),
    ]
    states = [editing.snapshot(job)]
    for version, (method, path, body) in enumerate(changes):
        answer = saved(api, method, f"{base}/{path}", {**body, "version": version})
        assert answer["version"] == version + 1
        states.append(editing.snapshot(Job.objects.get(pk=job.pk)))

    # The split's time: 8 of the line's 19 characters, so 8/19 of its 2 s.
    split_at = 5.0 + 2 * 8 / 19
    split_off = job.segments.get(index=2).pk
    assert answer == {
        "version": 6,
        "speakers": {"S1": "Alice", "S2": ""},
        "segments": [
            {"id": first, "index": 0, "start": 0.0, "end": 4.5, "speaker": "S1",
             "speaker_name": "Alice", "text": "Hello there. General Grievous."},
            {"id": third, "index": 1, "start": 5.0, "end": split_at, "speaker": "S2",
             "speaker_name": "S2", "text": "You are"},
            {"id": split_off, "index": 2, "start": split_at, "end": 7.0, "speaker": "S1",
             "speaker_name": "Alice", "text": "a bold one."},
        ],
    }  # fmt: skip
    revisions = api.get(f"{base}/revisions/").json()
    assert [(r["version"], r["action"], r["author"], r["summary"]) for r in revisions] == [
        (6, "merge_speakers", "alice", "merged S3 into S2"),
        (5, "reassign_speaker", "alice", 'line 2 from S1 ("Alice") to S3'),
        (4, "join", "alice", 'joined lines 1 and 2 (line 2 was S2; the line keeps S1 ("Alice"))'),
        (3, "split", "alice",
         'split line 3 at 5.84 s (proportional to characters): "You are" | "a bold one."'),
        (2, "edit_text", "alice", 'edited line 2: "General Kenobi." → "General Grievous."'),
        (1, "rename_speaker", "alice", 'renamed S1 to "Alice"'),
    ]  # fmt: skip
    files = exported(job)
    # The edits, and the name given, in every export: turns in TXT, names on the cues.
    assert files["txt"] == (
        "[00:00:00] Alice: Hello there. General Grievous.\n\n"
        "[00:00:05] S2: You are\n\n"
        "[00:00:05] Alice: a bold one.\n"
    )
    assert [text for _, _, text in files["srt"]] == [
        "Alice: Hello there.", "Alice: General Grievous.", "S2: You are", "Alice: a bold one.",
    ]  # fmt: skip
    assert files["srt"][3][:2] == (pytest.approx(split_at, abs=0.001), 7.0)
    assert files["json"]["text"] == "Hello there. General Grievous. You are a bold one."
    assert [(s["speaker_name"], s["text"]) for s in files["json"]["segments"]] == [
        ("Alice", "Hello there. General Grievous."), ("S2", "You are"), ("Alice", "a bold one."),
    ]  # fmt: skip

    # Every format, DOCX included: the new name, the edited text, no merged-away speaker.
    for fmt, text in every_export_as_text(job).items():
        assert "Alice" in text and "General Grievous." in text, fmt
        assert "Kenobi" not in text and "S3" not in text, fmt

    for version, state in enumerate(states[:-1]):
        current = len(changes) + version
        restored = saved(api, "post", f"{base}/restore/", {"version": current, "to": version})
        assert restored["version"] == current + 1
        assert editing.snapshot(Job.objects.get(pk=job.pk)) == state
        if version == 0:
            assert exported(job)["txt"] == (
                "[00:00:00] S1: Hello there.\n\n"
                "[00:00:02] S2: General Kenobi.\n\n"
                "[00:00:05] S1: You are a bold one.\n"
            )
    assert api.get(f"{base}/revisions/").json()[0]["summary"] == "restored version 5"


def test_a_save_made_on_a_stale_version_is_refused_409_naming_what_changed(alice, bob):
    job = transcript_job(alice)
    api = api_client_for(alice)
    url = f"/api/jobs/{job.pk}"
    saved(api, "post", f"{url}/speakers/rename/", {"version": 0, "speaker": "S1", "name": "Ann"})
    saved(api, "patch", f"{url}/segments/{line_id(job, 0)}/", {"version": 1, "text": "Hi."})
    before = editing.snapshot(Job.objects.get(pk=job.pk))

    response = api.post(
        f"{url}/speakers/rename/", {"version": 0, "speaker": "S1", "name": "Eve"}, format="json"
    )

    assert response.status_code == 409
    assert response.json() == {
        "detail": 'The transcript changed since version 0 (now 2): renamed S1 to "Ann"; edited '
        'line 1: "Hello there." → "Hi.". Reload it and make the change again.',
        "version": 2,
        "changes": ['renamed S1 to "Ann"', 'edited line 1: "Hello there." → "Hi."'],
    }
    assert editing.snapshot(Job.objects.get(pk=job.pk)) == before
    assert job.revisions.count() == 2


def test_edits_of_a_job_that_has_not_succeeded_are_refused_409(alice):
    job = JobFactory(recording__owner=alice, status=JobStatus.RUNNING)

    response = api_client_for(alice).post(
        f"/api/jobs/{job.pk}/speakers/merge/",
        {"version": 0, "speaker": "S2", "into": "S1"},
        format="json",
    )

    assert response.status_code == 409
    assert response.json()["detail"] == (
        "The job is running: its transcript can be edited once it has succeeded."
    )


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "detail"),
    [
        ("patch", "segments/{1}/", {"text": "  "}, 400, "A line cannot be empty"),
        ("patch", "segments/{1}/", {}, 400, "Give the line's new text"),
        ("post", "speakers/rename/", {"speaker": "S1", "name": "x" * 101}, 400, None),
        ("post", "speakers/rename/", {"speaker": "S9", "name": "Zed"}, 400, "no speaker 'S9'"),
        ("post", "speakers/merge/", {"speaker": "S1", "into": "S1"}, 400, "merged into itself"),
        ("post", "speakers/merge/", {"speaker": "S9", "into": "S1"}, 400, "no speaker 'S9'"),
        (
            "post",
            "segments/{1}/split/",
            {"at": 15},
            400,
            "Split inside the line's words: at 1 to 14",
        ),
        ("post", "segments/{2}/join/", {}, 400, "This is the last line"),
        ("post", "segments/{other}/join/", {}, 404, "is not in this transcript"),
        ("post", "restore/", {"to": 0}, 400, "has not been changed"),
        ("post", "restore/", {}, 400, None),
    ],
)
def test_changes_that_make_no_sense_are_refused_with_a_reason(
    alice, method, path, body, status, detail
):
    job = transcript_job(alice)
    other = SucceededJobFactory(recording__owner=alice)
    path = path.format(*[line_id(job, i) for i in range(3)], other=line_id(other, 0))

    response = getattr(api_client_for(alice), method)(
        f"/api/jobs/{job.pk}/{path}", {**body, "version": 0}, format="json"
    )

    assert response.status_code == status, response.content
    if detail:
        assert detail in response.json()["detail"]
    assert Job.objects.get(pk=job.pk).transcript_version == 0


def test_text_and_speaker_in_one_save_are_two_revisions(alice):
    job = transcript_job(alice)

    answer = saved(
        api_client_for(alice),
        "patch",
        f"/api/jobs/{job.pk}/segments/{line_id(job, 1)}/",
        {"version": 0, "text": "Kenobi.", "speaker": "S1"},
    )

    assert answer["version"] == 2
    assert answer["segments"][1] | {"id": 0} == {
        "id": 0, "index": 1, "start": 2.5, "end": 4.5, "speaker": "S1", "speaker_name": "S1",
        "text": "Kenobi.",
    }  # fmt: skip
    assert list(job.revisions.values_list("action", flat=True)) == [
        "reassign_speaker",
        "edit_text",
    ]


def test_a_rerun_keeps_the_edited_transcript_as_a_revision(alice):
    job = transcript_job(alice)
    api = api_client_for(alice)
    saved(api, "post", f"/api/jobs/{job.pk}/speakers/rename/",
          {"version": 0, "speaker": "S2", "name": "Obi-Wan"})  # fmt: skip
    edited = editing.snapshot(Job.objects.get(pk=job.pk))

    assert api.post(f"/api/jobs/{job.pk}/retry/").status_code == 200
    job.refresh_from_db()
    assert (job.status, job.transcript_version, job.speaker_names) == ("queued", 2, {})
    assert job.claim(worker="w")
    services.job_store_transcript(
        job=job, language="en", text="Hello there.", segments=[(0.0, 1.5, "Hello there.", "")]
    )
    rerun = editing.snapshot(Job.objects.get(pk=job.pk))

    revisions = api.get(f"/api/jobs/{job.pk}/revisions/").json()
    assert [(r["version"], r["action"], r["author"]) for r in revisions] == [
        (2, "rerun", "alice"),
        (1, "rename_speaker", "alice"),
    ]
    assert job.revisions.get(version=2).before == edited
    saved(api, "post", f"/api/jobs/{job.pk}/restore/", {"version": 2, "to": 1})
    assert editing.snapshot(Job.objects.get(pk=job.pk)) == edited
    saved(api, "post", f"/api/jobs/{job.pk}/restore/", {"version": 3, "to": 2})
    assert editing.snapshot(Job.objects.get(pk=job.pk)) == rerun


def test_search_finds_the_edited_text_with_the_speakers_name(alice):
    job = transcript_job(alice)
    api = api_client_for(alice)
    url = f"/api/jobs/{job.pk}"
    saved(api, "patch", f"{url}/segments/{line_id(job, 1)}/", {"version": 0, "text": "Grievous!"})
    saved(api, "post", f"{url}/speakers/rename/", {"version": 1, "speaker": "S2", "name": "Obi"})

    hits = api.get("/api/search/", {"q": "grievous"}).json()["results"]

    assert [(h["index"], h["speaker"], h["speaker_name"], h["text"]) for h in hits] == [
        (1, "S2", "Obi", "Grievous!")
    ]
    assert api.get("/api/search/", {"q": "kenobi"}).json()["results"] == []


@pytest.mark.django_db(transaction=True)
def test_of_two_saves_on_the_same_version_only_the_first_to_lock_the_job_wins():
    job = transcript_job(UserFactory(username="alice"))
    outcome = {}

    def second_save() -> None:
        try:
            editing.speaker_rename(job=job, version=0, speaker="S1", name="Second")
        except editing.StaleVersion as stale:
            outcome["refused"] = stale.changes
        finally:
            close_old_connections()
            connection.close()

    with transaction.atomic():
        editing.speaker_rename(job=job, version=0, speaker="S1", name="First")
        rival = threading.Thread(target=second_save)
        rival.start()
        rival.join(timeout=0.5)
        assert rival.is_alive(), "the second save did not wait for the job's row lock"
    rival.join(timeout=10)

    assert outcome == {"refused": ['renamed S1 to "First"']}
    assert Job.objects.get(pk=job.pk).speaker_names["S1"] == "First"


@pytest.mark.parametrize("path", ["transcript/", "revisions/"])
def test_a_longer_transcript_is_read_in_as_many_queries(alice, path):
    api = api_client_for(alice)

    def queries(lines: int) -> int:
        job = transcript_job(alice, [(f"S{i % 3}", f"line {i}") for i in range(lines)])
        for version in range(lines // 2):
            editing.segment_edit_text(
                job=job, segment_id=line_id(job, version), version=version, text="edited"
            )
        with CaptureQueriesContext(connection) as captured:
            assert api.get(f"/api/jobs/{job.pk}/{path}").status_code == 200
        return len(captured)

    assert queries(20) == queries(2)
