"""The pages in a real browser, against uvicorn and a real Celery worker running whisper-base."""

import re
from pathlib import Path

import pytest
import srt
from playwright.sync_api import Route, WebSocketRoute, expect

from tests.audio_files import speech
from tests.conftest import (
    BROWSER_CHUNK_MB,
    BROWSER_PASSWORD,
    JOB_TIMEOUT_MS,
    log_in,
    publish,
    wait_for_page,
)
from tests.factories import JobFactory, SucceededJobFactory
from transcription import services
from transcription.models import Recording, Upload

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CLIP = speech("en_librispeech_1995-1837-0001.wav")


def test_upload_transcribe_play_and_export(
    portal_server, celery_worker, django_user_model, page, tmp_path
):
    django_user_model.objects.create_user("carol", password=BROWSER_PASSWORD)
    log_in(page, portal_server, "carol")
    expect(page.locator("#model option")).not_to_have_count(0)

    # A file that is not audio is rejected by name, in red, without a job.
    not_audio = tmp_path / "notes.txt"
    not_audio.write_text("these are not the droids\n" * 100)
    page.set_input_files("#file-input", not_audio)
    rejection = page.get_by_test_id("rejection")
    expect(rejection).to_contain_text("notes.txt")
    expect(rejection).to_have_css("color", "rgb(179, 38, 30)")

    # One real recording: its bar fills, then the page opens the transcript by itself.
    page.set_input_files("#file-input", CLIP)
    row = page.locator("[data-testid=upload-row]", has_text=CLIP.name)
    page.wait_for_selector("[data-testid=upload-row][data-state=succeeded]", timeout=JOB_TIMEOUT_MS)
    expect(row.get_by_test_id("row-bar")).to_have_attribute("aria-valuenow", "100")
    expect(page).to_have_url(re.compile(r"/recordings/\d+/$"))

    expect(page.get_by_test_id("recording-name")).to_have_text(CLIP.name)
    expect(page.get_by_test_id("job-status")).to_have_text("Done")
    transcript = page.get_by_test_id("transcript")
    expect(transcript).to_contain_text(re.compile("sorrow", re.IGNORECASE))
    segments = page.get_by_test_id("segment")
    expect(segments.first).to_contain_text(re.compile(r"\[\d\d:\d\d – \d\d:\d\d\]"))

    # Clicking a segment seeks the player to the segment's start and highlights it.
    player = page.get_by_test_id("player")
    wait_for_page(page, "() => document.getElementById('player').readyState >= 1")
    first = segments.first
    start = float(first.get_attribute("data-start"))
    player.evaluate("audio => { audio.currentTime = audio.duration - 0.5; }")
    first.click()
    wait_for_page(
        page,
        "start => Math.abs(document.getElementById('player').currentTime - start) < 1.5",
        start,
    )
    expect(first).to_have_class(re.compile(r"\bactive\b"))

    # The SRT export downloads and parses, with the transcript's words in it.
    with page.expect_download() as download_info:
        page.get_by_test_id("export-srt").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".srt")
    cues = list(srt.parse(Path(download.path()).read_text(encoding="utf-8")))
    assert cues
    assert "sorrow" in " ".join(cue.content for cue in cues).lower()
    # Long segments may be split into several cues; the words and their order are kept.
    shown = segments.locator(".segment-text").all_text_contents()
    assert " ".join(cue.content for cue in cues).split() == " ".join(shown).split()

    # History lists the recording as done.
    page.get_by_test_id("nav-history").click()
    history_row = page.get_by_test_id("recording-row").filter(has_text=CLIP.name)
    expect(history_row.get_by_test_id("status-cell")).to_contain_text("Done")


def test_upload_page_offers_only_the_languages_the_model_can_be_told(
    portal_server, django_user_model, page
):
    django_user_model.objects.create_user("erin", password=BROWSER_PASSWORD)
    log_in(page, portal_server, "erin")
    language = page.locator("#language")
    page.select_option("#model", "whisper-base")
    page.select_option("#language", "en")

    page.select_option("#model", "paraformer-zh")

    expect(language).to_have_value("auto")
    expect(language.locator("option[value=en]")).to_be_disabled()
    expect(language.locator("option[value=zh-TW]")).to_be_enabled()
    page.select_option("#model", "whisper-base")
    expect(language.locator("option[value=en]")).to_be_enabled()


CHUNK_URL = re.compile(r"/api/uploads/[0-9a-f-]+/$")


def test_a_file_goes_up_in_chunks_and_a_lost_chunk_is_sent_again(
    portal_server, django_user_model, page
):
    django_user_model.objects.create_user("gina", password=BROWSER_PASSWORD)
    log_in(page, portal_server, "gina")
    offsets = []

    def lose_the_second_chunk(route: Route) -> None:
        if route.request.method != "PATCH":
            route.continue_()
            return
        offsets.append(int(route.request.headers["upload-offset"]))
        if len(offsets) == 2:
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(CHUNK_URL, lose_the_second_chunk)
    expect(page.locator("#model option")).not_to_have_count(0)  # the page's script is running
    page.set_input_files("#file-input", CLIP)

    row = page.get_by_test_id("upload-row")
    expect(row).to_have_attribute("data-state", re.compile(r"^(queued|running|succeeded)$"))
    recording = Recording.objects.get(owner__username="gina")
    assert Path(recording.file.path).read_bytes() == CLIP.read_bytes()
    chunk = int(float(BROWSER_CHUNK_MB) * 1024 * 1024)
    # The lost chunk is sent again from the offset the server holds, then the rest.
    assert offsets == [0, chunk, chunk, 2 * chunk]
    assert CLIP.stat().st_size <= 3 * chunk
    assert not Upload.objects.exists()


def test_an_upload_that_keeps_failing_is_given_up_with_a_clear_message(
    portal_server, django_user_model, page
):
    django_user_model.objects.create_user("hank", password=BROWSER_PASSWORD)
    page.clock.install()
    log_in(page, portal_server, "hank")

    def lose_every_chunk(route: Route) -> None:
        if route.request.method == "PATCH":
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(CHUNK_URL, lose_every_chunk)
    # The page's script is running (it has filled the models) before a file is chosen.
    expect(page.locator("#model option")).not_to_have_count(0)
    page.set_input_files("#file-input", CLIP)
    row = page.get_by_test_id("upload-row")
    expect(row.get_by_test_id("row-status")).to_contain_text("retry 1 in 1 s")
    rejection = page.get_by_test_id("rejection")
    for _ in range(20):  # the backoff's pauses, skipped
        if rejection.count():
            break
        page.clock.run_for(31_000)
        page.wait_for_timeout(200)

    expect(rejection).to_contain_text(
        f"{CLIP.name}: the upload stopped at 0% and was given up after 6 retries "
        "(the connection was lost). Check the connection and upload the file again."
    )
    # The partial upload is cancelled on the server rather than left to expire.
    for _ in range(50):  # waiting in Playwright, whose loop must run for the DELETE to pass
        if not Upload.objects.filter(owner__username="hank").exists():
            break
        page.wait_for_timeout(200)
    assert not Upload.objects.filter(owner__username="hank").exists()
    assert not Recording.objects.filter(owner__username="hank").exists()


def test_pages_follow_a_job_live_without_reloading(portal_server, django_user_model, page):
    user = django_user_model.objects.create_user("dave", password=BROWSER_PASSWORD)
    job = JobFactory(recording__owner=user, recording__name="standup.wav")
    log_in(page, portal_server, "dave")

    page.goto(f"{portal_server}/history/")
    status_cell = page.get_by_test_id("recording-row").filter(has_text="standup.wav")
    expect(status_cell.get_by_test_id("status-cell")).to_contain_text("Queued")
    job.claim(worker="browser-test")
    job.record_progress(stage="transcribing", progress=40)
    publish(job)
    expect(status_cell.get_by_test_id("status-cell")).to_contain_text("Transcribing · 40%")

    page.goto(f"{portal_server}/recordings/{job.recording_id}/")
    expect(page.get_by_test_id("job-status")).to_have_text("Running")
    expect(page.get_by_test_id("job-bar")).to_have_attribute("aria-valuenow", "40")
    expect(page.get_by_test_id("cancel-button")).to_be_visible()
    expect(page.get_by_test_id("transcript")).to_be_hidden()

    segments = [(0.0, 1.5, "Hello <b>there</b>.", ""), (1.5, 3.0, "General Kenobi.", "")]
    services.job_store_transcript(
        job=job, language="en", text="Hello there. General Kenobi.", segments=segments
    )
    publish(job)
    expect(page.get_by_test_id("job-status")).to_have_text("Done")
    expect(page.get_by_test_id("cancel-button")).to_be_hidden()
    rows = page.get_by_test_id("segment")
    expect(rows).to_have_count(2)
    # Transcript text is data: shown as typed, never parsed as markup.
    expect(rows.first).to_contain_text("[00:00 – 00:01] Hello <b>there</b>.")
    expect(rows.first.locator("b")).to_have_count(0)


def test_progress_is_polled_while_the_websocket_is_down(portal_server, django_user_model, page):
    user = django_user_model.objects.create_user("erin", password=BROWSER_PASSWORD)
    job = JobFactory(recording__owner=user)

    def refuse(ws: WebSocketRoute) -> None:
        ws.close()

    page.route_web_socket(re.compile(r"/ws/jobs/"), refuse)
    log_in(page, portal_server, "erin")
    page.goto(f"{portal_server}/recordings/{job.recording_id}/")
    expect(page.get_by_test_id("job-status")).to_have_text("Queued")

    # No event is sent: only polling can notice the change.
    job.claim(worker="browser-test")
    job.record_progress(stage="decoding", progress=12)
    expect(page.get_by_test_id("job-status")).to_have_text("Running", timeout=10_000)
    expect(page.get_by_test_id("job-detail")).to_contain_text("Reading the audio · 12%")


def test_a_search_result_opens_the_recording_at_that_moment(portal_server, django_user_model, page):
    user = django_user_model.objects.create_user("frank", password=BROWSER_PASSWORD)
    job = SucceededJobFactory(
        recording__owner=user,
        recording__name="retro.wav",
        recording__audio=CLIP.name,
        segments=["We start with the numbers.", "The needle in the haystack."],
    )
    log_in(page, portal_server, "frank")

    page.get_by_test_id("nav-search").click()
    page.get_by_test_id("search-input").fill("NEEDLE")
    page.get_by_test_id("search-input").press("Enter")

    hit = page.get_by_test_id("search-hit")
    expect(hit).to_have_count(1)
    expect(hit.locator("mark")).to_have_text("needle")
    hit.get_by_role("link").click()
    expect(page).to_have_url(f"{portal_server}/recordings/{job.recording_id}/?t=2.50")
    wait_for_page(page, "() => Math.abs(document.getElementById('player').currentTime - 2.5) < 0.1")
    expect(page.get_by_test_id("segment").nth(1)).to_have_class(re.compile(r"\bactive\b"))


def test_repeated_failed_logins_lock_the_login_with_a_clear_message(
    portal_server, django_user_model, page, settings
):
    django_user_model.objects.create_user("gina", password=BROWSER_PASSWORD)
    page.goto(f"{portal_server}/accounts/login/")

    def attempt(password: str) -> None:
        page.fill("#id_username", "gina")
        page.fill("#id_password", password)
        page.click("[data-testid=login-submit]")

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt("wrong")
        expect(page.get_by_test_id("login-error")).to_be_visible()
    attempt("wrong")
    expect(page.get_by_test_id("login-locked")).to_contain_text("Try again in")
    attempt(BROWSER_PASSWORD)  # the right password, while locked
    expect(page.get_by_test_id("login-locked")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
