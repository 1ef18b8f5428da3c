"""Exports of a transcript with speakers: every format says who spoke, with the names people
gave (the label where none was given), and no subtitle cue spans a change of speaker."""

import csv
import html
import io
import json

import docx
import pytest
import srt
import webvtt

from tests.factories import SucceededJobFactory
from transcription.exports import export_job
from transcription.models import Job

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

# (speaker, text); segment i runs from 2.5 i to 2.5 i + 2 (SucceededJobFactory).
LINES = [
    ("S1", "Hello there."),
    ("S1", "How are you?"),
    ("S2", "General Kenobi."),
    ("S1", "你好，欢迎。"),
]


def job_with_speakers(owner, lines=LINES, names=None, **fields) -> Job:
    job = SucceededJobFactory(
        recording__owner=owner,
        segments=[text for _, text in lines],
        speaker_names={"S1": "Alice", "S2": ""} if names is None else names,
        **fields,
    )
    for index, (speaker, _) in enumerate(lines):
        job.segments.filter(index=index).update(speaker=speaker)
    return job


def content(job: Job, fmt: str) -> str:
    return export_job(job, fmt).content


def test_srt_starts_each_cue_with_the_speakers_name(alice):
    cues = list(srt.parse(content(job_with_speakers(alice), "srt")))

    assert [(c.start.total_seconds(), c.content) for c in cues] == [
        (0.0, "Alice: Hello there."),
        (2.5, "Alice: How are you?"),
        (5.0, "S2: General Kenobi."),
        (7.5, "Alice: 你好，欢迎。"),
    ]


def test_vtt_marks_the_voice_with_the_name_escaped(alice, tmp_path):
    job = job_with_speakers(alice, names={"S1": "Ben <b>Kenobi</b> & co", "S2": "-->Grievous"})
    text = content(job, "vtt")
    vtt_file = tmp_path / "t.vtt"
    vtt_file.write_text(text)

    captions = webvtt.read(str(vtt_file))

    assert "<v Ben &lt;b&gt;Kenobi&lt;/b&gt; &amp; co>Hello there.</v>" in text
    assert [html.unescape(c.voice) for c in captions] == [
        "Ben <b>Kenobi</b> & co",
        "Ben <b>Kenobi</b> & co",
        "->Grievous",
        "Ben <b>Kenobi</b> & co",
    ]
    assert [c.text for c in captions] == [text for _, text in LINES]


def test_no_cue_spans_a_change_of_speaker(alice, tmp_path):
    long_turn = "It was the first great sorrow of his life, and he never forgot it. " * 3
    lines = [("S1", long_turn), ("S2", "No."), ("S1", long_turn)]
    job = job_with_speakers(alice, lines=lines)
    job.segments.filter(index=0).update(start=0, end=20)
    job.segments.filter(index=1).update(start=20, end=20.5)
    job.segments.filter(index=2).update(start=20.5, end=40)
    turns = [(0, 20, "Alice"), (20, 20.5, "S2"), (20.5, 40, "Alice")]

    def speaker_at(start: float, end: float) -> str:
        [name] = [n for a, b, n in turns if a <= start + 1e-6 and end <= b + 1e-6]
        return name

    cues = list(srt.parse(content(job, "srt")))
    assert len(cues) > 6
    for cue in cues:
        start, end = cue.start.total_seconds(), cue.end.total_seconds()
        assert cue.content.startswith(f"{speaker_at(start, end)}: ")
        assert all(len(line) <= 42 for line in cue.content.splitlines())
    vtt_file = tmp_path / "t.vtt"
    vtt_file.write_text(content(job, "vtt"))
    for caption in webvtt.read(str(vtt_file)):
        assert caption.voice == speaker_at(seconds(caption.start), seconds(caption.end))


def seconds(clock: str) -> float:
    hours, minutes, secs = clock.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(secs)


def test_csv_has_clock_times_seconds_and_speakers_in_utf8_with_a_bom(alice, alice_api):
    job = job_with_speakers(alice, names={"S1": "=HYPERLINK(x)", "S2": "Bob"})

    response = alice_api.get(f"/api/jobs/{job.pk}/export/?format=csv")

    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows == [
        ["start", "end", "start_s", "end_s", "speaker", "text"],
        ["00:00:00.000", "00:00:02.000", "0.000", "2.000", "'=HYPERLINK(x)", "Hello there."],
        ["00:00:02.500", "00:00:04.500", "2.500", "4.500", "'=HYPERLINK(x)", "How are you?"],
        ["00:00:05.000", "00:00:07.000", "5.000", "7.000", "Bob", "General Kenobi."],
        ["00:00:07.500", "00:00:09.500", "7.500", "9.500", "'=HYPERLINK(x)", "你好，欢迎。"],
    ]


def test_txt_has_a_paragraph_per_turn_with_its_start(alice):
    assert content(job_with_speakers(alice), "txt") == (
        "[00:00:00] Alice: Hello there. How are you?\n"
        "\n"
        "[00:00:05] S2: General Kenobi.\n"
        "\n"
        "[00:00:07] Alice: 你好，欢迎。\n"
    )


def test_json_names_each_segments_speaker(alice):
    document = json.loads(content(job_with_speakers(alice), "json"))

    assert document["speakers"] == {"S1": "Alice", "S2": "S2"}
    assert [(s["speaker"], s["speaker_name"], s["text"]) for s in document["segments"]] == [
        ("S1", "Alice", "Hello there."),
        ("S1", "Alice", "How are you?"),
        ("S2", "S2", "General Kenobi."),
        ("S1", "Alice", "你好，欢迎。"),
    ]


def read_docx(response) -> list[str]:
    return [p.text for p in docx.Document(io.BytesIO(response.content)).paragraphs]


def test_docx_has_title_date_duration_speakers_and_turns(alice, alice_api):
    job = job_with_speakers(alice, recording__name="Board meeting.m4a")

    response = alice_api.get(f"/api/jobs/{job.pk}/export/?format=docx")

    assert response.status_code == 200
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    assert 'filename="Board meeting.docx"' in response["Content-Disposition"]
    date = f"{job.recording.created_at.astimezone():%Y-%m-%d}"
    assert read_docx(response) == [
        "Board meeting.m4a",
        f"Date: {date}",
        "Duration: 00:00:12",
        "Speakers: Alice, S2",
        "[00:00:00] Alice Hello there. How are you?",
        "[00:00:05] S2 General Kenobi.",
        "[00:00:07] Alice 你好，欢迎。",
    ]


def test_docx_without_speakers_has_a_paragraph_per_segment_and_survives_control_characters(
    alice, alice_api
):
    job = SucceededJobFactory(recording__owner=alice, segments=["Hello\x1f there.", "Bye\x0b."])

    response = alice_api.get(f"/api/jobs/{job.pk}/export/?format=docx")

    assert response.status_code == 200
    paragraphs = read_docx(response)
    assert "Speakers" not in " ".join(paragraphs)
    assert paragraphs[-2:] == ["[00:00:00] Hello there.", "[00:00:02] Bye."]


def test_the_recording_page_offers_docx(alice, client):
    job = job_with_speakers(alice, num_speakers=2, identify_speakers=True)
    client.force_login(alice)

    page = client.get(f"/recordings/{job.recording_id}/").content.decode()

    assert f'href="/api/jobs/{job.pk}/export/?format=docx"' in page
    assert "Speakers: identified (2 expected)" in page
