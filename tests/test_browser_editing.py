"""Correcting a transcript on the recording page, in a real browser: speakers, lines, history,
a save made on a stale version, and the exports that read the corrections."""

from pathlib import Path

import docx
import pytest
import webvtt
from playwright.sync_api import Page, Route, expect

from accounts.models import Role
from tests.conftest import BROWSER_PASSWORD, SCREENS, log_in, screenshot
from tests.factories import MembershipFactory, SucceededJobFactory, UserFactory
from transcription import editing
from transcription.models import Job

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LINES = [
    ("S1", "Good morning everyone."),
    ("S2", "Morning, where do we start?"),
    ("S1", "With the numbers."),
]


def two_speaker_job(owner) -> Job:
    """A finished job whose lines two (unnamed) speakers say in turn."""
    job = SucceededJobFactory(
        recording__owner=owner,
        recording__name="standup.wav",
        identify_speakers=True,
        speaker_names={"S1": "", "S2": ""},
        text=" ".join(text for _, text in LINES),
        segments=[text for _, text in LINES],
    )
    for segment, (speaker, _) in zip(job.segments.order_by("index"), LINES, strict=True):
        segment.speaker = speaker
        segment.save(update_fields=["speaker"])
    return job


def line(page: Page, index: int):
    return page.get_by_test_id("segment").nth(index)


def speakers_of_lines(page: Page) -> list[str]:
    return page.get_by_test_id("segment-speaker").all_text_contents()


def edit_line(page: Page, index: int, text: str) -> None:
    line(page, index).get_by_test_id("edit-line").click()
    line(page, index).get_by_test_id("line-text").fill(text)


def download(page: Page, testid: str) -> Path:
    with page.expect_download() as info:
        page.get_by_test_id(testid).click()
    return Path(info.value.path())


def test_corrections_are_kept_listed_restorable_and_exported(
    portal_server, django_user_model, page, tmp_path
):
    user = django_user_model.objects.create_user("nora", password=BROWSER_PASSWORD)
    job = two_speaker_job(user)
    log_in(page, portal_server, "nora")
    page.goto(f"{portal_server}/recordings/{job.recording_id}/")

    # Each line names its speaker, in the speaker's colour; the two colours differ.
    expect(page.get_by_test_id("segment")).to_have_count(3)
    assert speakers_of_lines(page) == ["S1", "S2", "S1"]
    colours = page.get_by_test_id("segment-speaker").evaluate_all(
        "tags => tags.map((tag) => getComputedStyle(tag).color)"
    )
    assert colours[0] == colours[2] != colours[1]

    # Rename S1 once, from the speakers' legend: every line of theirs says so.
    page.locator("[data-testid=speaker][data-label=S1]").get_by_test_id("speaker-edit").click()
    page.get_by_test_id("speaker-name-input").fill("Alice")
    page.get_by_test_id("speaker-name-input").press("Enter")
    expect(page.get_by_test_id("segment-speaker").first).to_have_text("Alice")
    assert speakers_of_lines(page) == ["Alice", "S2", "Alice"]

    # Edit a line's text in place; Enter saves it.
    edit_line(page, 1, "Morning, where shall we start?")
    line(page, 1).get_by_test_id("line-text").press("Enter")
    expect(line(page, 1).locator(".segment-text")).to_have_text("Morning, where shall we start?")
    expect(page.get_by_test_id("line-editor")).to_have_count(0)

    # Both are kept, and listed in the history, newest first, then the original.
    page.reload()
    expect(line(page, 1).locator(".segment-text")).to_have_text("Morning, where shall we start?")
    assert speakers_of_lines(page) == ["Alice", "S2", "Alice"]
    revisions = page.get_by_test_id("revision")
    expect(revisions).to_have_count(3)
    expect(revisions.nth(0)).to_contain_text("edited line 2")
    expect(revisions.nth(0)).to_contain_text("nora")
    expect(revisions.nth(1)).to_contain_text("Alice")
    expect(revisions.nth(2)).to_contain_text("Original")

    # The exports, through the page's links, carry the corrections.
    captions = webvtt.read(str(download(page, "export-vtt"))).captions
    assert [caption.voice for caption in captions] == ["Alice", "S2", "Alice"]
    assert captions[1].text == "Morning, where shall we start?"
    document = docx.Document(str(download(page, "export-docx")))
    text = "\n".join(paragraph.text for paragraph in document.paragraphs)
    assert "Alice" in text
    assert "Morning, where shall we start?" in text

    # A save the network loses says so, and keeps the text in its editor.
    edit_line(page, 2, "With the numbers, then the plan.")

    def lose(route: Route) -> None:
        route.abort("connectionreset") if route.request.method == "PATCH" else route.continue_()

    page.route("**/api/jobs/*/segments/*/", lose)
    line(page, 2).get_by_test_id("line-save").click()
    notice = page.get_by_test_id("transcript-notice")
    expect(notice).to_contain_text("Could not save the line: the server could not be reached")
    expect(line(page, 2).get_by_test_id("line-text")).to_have_value(
        "With the numbers, then the plan."
    )
    page.unroute("**/api/jobs/*/segments/*/")

    # Someone else renames S2 meanwhile: the save, made on the page's version, is refused with
    # what changed; the page shows the new transcript and still holds the typed text, marked.
    job.refresh_from_db()
    editing.speaker_rename(job=job, version=job.transcript_version, speaker="S2", name="Bob")
    line(page, 2).get_by_test_id("line-save").click()
    expect(notice).to_contain_text("The transcript changed since version 2")
    expect(notice).to_contain_text("Bob")
    expect(page.get_by_test_id("segment-speaker").nth(1)).to_have_text("Bob")
    editor = line(page, 2).get_by_test_id("line-editor")
    expect(editor.get_by_test_id("line-note")).to_be_visible()
    expect(editor.get_by_test_id("line-text")).to_have_value("With the numbers, then the plan.")
    for name, size in SCREENS.items():
        page.set_viewport_size(size)
        screenshot(page, tmp_path, f"editing-conflict-{name}")

    # Saved again, on the version now shown, it goes through.
    editor.get_by_test_id("line-save").click()
    expect(line(page, 2).locator(".segment-text")).to_have_text("With the numbers, then the plan.")
    expect(notice).to_be_hidden()
    expect(revisions).to_have_count(5)

    # A line to a new speaker, then that speaker merged into Alice.
    line(page, 0).get_by_test_id("edit-line").click()
    line(page, 0).get_by_test_id("line-speaker").select_option(label="New speaker")
    line(page, 0).get_by_test_id("line-save").click()
    expect(page.get_by_test_id("segment-speaker").first).to_have_text("S3")
    new_speaker = page.locator("[data-testid=speaker][data-label=S3]")
    new_speaker.get_by_test_id("speaker-edit").click()
    new_speaker.get_by_test_id("speaker-merge-into").select_option(label="Alice")
    new_speaker.get_by_test_id("speaker-merge").click()
    expect(page.locator("[data-testid=speaker][data-label=S3]")).to_have_count(0)
    assert speakers_of_lines(page) == ["Alice", "Bob", "Alice"]

    # Split a line where the caret is, then join it again.
    line(page, 0).get_by_test_id("edit-line").click()
    line(page, 0).get_by_test_id("line-text").evaluate("area => area.setSelectionRange(12, 12)")
    line(page, 0).get_by_test_id("line-split").click()
    expect(page.get_by_test_id("segment")).to_have_count(4)
    assert page.locator("#segments .segment-text").all_text_contents()[:2] == [
        "Good morning",
        "everyone.",
    ]
    line(page, 0).get_by_test_id("edit-line").click()
    line(page, 0).get_by_test_id("line-join").click()
    expect(page.get_by_test_id("segment")).to_have_count(3)
    expect(line(page, 0).locator(".segment-text")).to_have_text("Good morning everyone.")
    expect(revisions).to_have_count(9)

    # Typed into a line that someone else's join then removes: the text stays on the page.
    edit_line(page, 2, "With the numbers and the plan.")
    job.refresh_from_db()
    second = job.segments.get(index=1)
    editing.segment_join(job=job, segment_id=second.pk, version=job.transcript_version)
    line(page, 2).get_by_test_id("line-save").click()
    expect(page.get_by_test_id("segment")).to_have_count(2)
    expect(page.get_by_test_id("orphans").locator("textarea")).to_have_value(
        "With the numbers and the plan."
    )
    expect(revisions).to_have_count(10)

    # Restoring the original brings back the words and the labels as recognised.
    page.locator("[data-testid=revision][data-version='0']").get_by_test_id(
        "revision-restore"
    ).click()
    expect(line(page, 1).locator(".segment-text")).to_have_text("Morning, where do we start?")
    assert speakers_of_lines(page) == ["S1", "S2", "S1"]
    expect(revisions).to_have_count(11)
    job.refresh_from_db()
    assert job.speaker_names == {"S1": "", "S2": ""}
    assert [s.text for s in job.segments.order_by("index")] == [text for _, text in LINES]


def test_a_teammate_who_may_not_change_the_recording_reads_it_without_edit_controls(
    portal_server, django_user_model, page
):
    reader = django_user_model.objects.create_user("pete", password=BROWSER_PASSWORD)
    job = two_speaker_job(UserFactory(username="olga"))
    membership = MembershipFactory(user=reader, role=Role.MEMBER)
    job.recording.team = membership.team
    job.recording.save(update_fields=["team"])
    log_in(page, portal_server, "pete")
    page.goto(f"{portal_server}/recordings/{job.recording_id}/")

    expect(page.get_by_test_id("segment")).to_have_count(3)
    assert speakers_of_lines(page) == ["S1", "S2", "S1"]
    expect(page.get_by_test_id("history-panel")).to_be_visible()
    for control in ("edit-line", "speaker-edit", "revision-restore"):
        expect(page.get_by_test_id(control)).to_have_count(0)
