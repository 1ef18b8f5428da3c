"""In a real browser: a job's end is told on every open page of its owner (a toast, and a browser
notification where allowed), and an upload row cancels its job and follows it when it is
re-run elsewhere."""

import re
import uuid
from collections.abc import Iterator

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.audio_files import speech
from tests.conftest import (
    BROWSER_CHUNK_MB,
    BROWSER_PASSWORD,
    log_in,
    open_page,
    publish,
    screenshot,
    serve_portal,
    wait_until,
)
from tests.factories import JobFactory
from tests.test_browser_queue import in_thread
from transcription import services
from transcription.models import Job, JobStatus

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CLIP = speech("en_librispeech_1089-134686-0001.wav")  # 207 KB, 6.6 s
DESKTOP, PHONE = {"width": 1366, "height": 800}, {"width": 390, "height": 740}
# The browser's Notification, spied on: each one shown is recorded; permission stays the real one.
NOTIFICATION_SPY = """
const Real = window.Notification;
window.notificationsShown = [];
window.Notification = class extends EventTarget {
  constructor(title, options) {
    super();
    window.notificationsShown.push({ title, body: options?.body });
  }
  static get permission() { return Real.permission; }
  static requestPermission() { return Real.requestPermission(); }
};
"""


@pytest.fixture(scope="module")
def idle_portal(process_env, tmp_path_factory) -> Iterator[str]:
    """The portal sending its jobs to a queue no worker reads: they wait until the test acts."""
    env = {
        **process_env,
        "CELERY_QUEUE": f"idle-{uuid.uuid4().hex}",
        "UPLOAD_CHUNK_MB": BROWSER_CHUNK_MB,
    }
    with serve_portal(env, tmp_path_factory.mktemp("web") / "web.log") as url:
        yield url


def test_a_job_ending_is_told_on_another_open_page(
    idle_portal, django_user_model, browser, tmp_path
):
    nora = django_user_model.objects.create_user("nora", password=BROWSER_PASSWORD)
    first, second = (
        JobFactory(recording__owner=nora, recording__name=name, status=JobStatus.RUNNING)
        for name in ("weekly sync.wav", "standup.wav")
    )
    with open_page(browser, viewport=DESKTOP) as page:
        page.context.grant_permissions(["notifications"], origin=idle_portal)
        page.context.add_init_script(NOTIFICATION_SPY)
        sockets = []
        page.on("websocket", lambda socket: sockets.append(socket.url))
        log_in(page, idle_portal, "nora")
        page.goto(f"{idle_portal}/search/")  # a page that follows no job of its own
        toasts = page.get_by_test_id("toast")

        end_until_told(page, first, told=1)
        end(JobFactory(status=JobStatus.RUNNING))  # someone else's: not told to her
        end_until_told(page, second, told=2)

        expect(toasts).to_have_count(2)
        toast = toasts.first
        expect(toast).to_have_attribute("role", "status")
        expect(toast).to_contain_text("weekly sync.wav is transcribed.")
        expect(toast.get_by_test_id("toast-link")).to_have_attribute(
            "href", f"/recordings/{first.recording_id}/"
        )
        shown = page.evaluate("() => window.notificationsShown")
        assert shown == [
            {"title": "Voxa", "body": "weekly sync.wav is transcribed."},
            {"title": "Voxa", "body": "standup.wav is transcribed."},
        ]
        screenshot(page, tmp_path, "toast")
        page.set_viewport_size(PHONE)
        screenshot(page, tmp_path, "toast")
        toast.get_by_test_id("toast-dismiss").click()
        expect(toasts).to_have_count(1)
    # One socket per page loaded (the upload page after the login, the search page), however
    # many listen on it.
    assert [url for url in sockets if url.endswith("/ws/jobs/")] == [
        f"{idle_portal.replace('http', 'ws', 1)}/ws/jobs/"
    ] * 2


def test_without_permission_only_the_toast_shows(idle_portal, django_user_model, browser):
    olaf = django_user_model.objects.create_user("olaf", password=BROWSER_PASSWORD)
    job = JobFactory(recording__owner=olaf, status=JobStatus.RUNNING)
    with open_page(browser, viewport=DESKTOP) as page:
        page.context.add_init_script(NOTIFICATION_SPY)
        log_in(page, idle_portal, "olaf")
        page.goto(f"{idle_portal}/accounts/notifications/")
        # Asked for only on the user's click, never on load.
        expect(page.get_by_test_id("notifications-button")).to_be_visible()
        Job.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, error="bad audio")
        end_until_told(page, job, told=1)
        expect(page.get_by_test_id("toast")).to_contain_text("failed")
        assert page.evaluate("() => window.notificationsShown") == []


def test_an_upload_row_cancels_and_follows_a_rerun_started_elsewhere(
    idle_portal, django_user_model, browser, job_queue, tmp_path
):
    django_user_model.objects.create_user("uma", password=BROWSER_PASSWORD)
    with open_page(browser, viewport=PHONE) as page:
        log_in(page, idle_portal, "uma")
        expect(page.locator("#model option")).not_to_have_count(0)  # the page's script is running
        page.set_input_files("#file-input", CLIP)
        row = page.get_by_test_id("upload-row")
        cancel = row.get_by_test_id("row-cancel")
        expect(cancel).to_be_visible(timeout=30_000)  # uploaded, its job queued
        job = Job.objects.get(recording__name=CLIP.name)
        expect(row.get_by_test_id("row-open")).to_have_attribute(
            "href", f"/recordings/{job.recording_id}/"
        )
        screenshot(page, tmp_path, "upload-row")
        cancel.click()
        expect(row.get_by_test_id("row-status")).to_have_text("Cancelled")
        expect(cancel).to_be_hidden()
        assert Job.objects.get(pk=job.pk).status == JobStatus.CANCELLED

        in_thread(lambda: services.job_retry(job=Job.objects.get(pk=job.pk)))  # "elsewhere"

        expect(row.get_by_test_id("row-status")).to_have_text(re.compile("queue"))
        expect(cancel).to_be_visible()
        expect(row.get_by_test_id("job-error")).to_have_count(0)


def end(job: Job) -> None:
    Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
        status=JobStatus.SUCCEEDED, finished_at=timezone.now()
    )
    publish(Job.objects.get(pk=job.pk))


def end_until_told(page: Page, job: Job, *, told: int) -> None:
    """Ends `job` and says so until the page shows its `told`th toast: an event sent before the
    page's socket was open is not heard (the page shows an end once, however often it is said)."""

    def said_and_shown() -> bool:
        end(job)
        return page.get_by_test_id("toast").count() >= told

    wait_until(said_and_shown, timeout_s=15)


def test_a_rerun_opens_preset_with_the_jobs_choices_and_shows_the_hotwords_used(
    idle_portal, django_user_model, browser, tmp_path
):
    vera = django_user_model.objects.create_user("vera", password=BROWSER_PASSWORD)
    job = JobFactory(
        recording__owner=vera, status=JobStatus.FAILED, error="boom", language="en",
        hotwords="Kenobi", itn=False,
    )  # fmt: skip
    with open_page(browser, viewport=PHONE) as page:
        log_in(page, idle_portal, "vera")
        page.goto(f"{idle_portal}/recordings/{job.recording_id}/")
        expect(page.get_by_test_id("job-hotwords")).to_have_text("Hotwords used: Kenobi")
        page.get_by_test_id("retry-button").click()
        form = page.get_by_test_id("rerun-form")
        expect(form.get_by_test_id("rerun-model")).to_have_value("whisper-base")
        expect(form.get_by_test_id("rerun-language")).to_have_value("en")
        expect(form.get_by_test_id("rerun-hotwords")).to_have_value("Kenobi")
        expect(form.get_by_test_id("rerun-itn")).not_to_be_checked()
        screenshot(page, tmp_path, "rerun")
        # Paraformer transcribes Mandarin only: English is not offered with it.
        form.get_by_test_id("rerun-model").select_option("paraformer-zh")
        expect(form.get_by_test_id("rerun-language")).to_have_value("auto")
        expect(form.locator("#rerun-language option[value=en]")).to_be_disabled()
        form.get_by_test_id("rerun-model").select_option("whisper-base")
        form.get_by_test_id("rerun-language").select_option("en")
        form.get_by_test_id("rerun-hotwords").fill("Kenobi\nSkywalker")
        form.get_by_test_id("rerun-itn").check()
        form.get_by_test_id("rerun-submit").click()
        expect(page.get_by_test_id("job-status")).to_have_text("Queued")
        expect(form).to_be_hidden()
        expect(page.get_by_test_id("job-hotwords")).to_have_text("Hotwords used: Kenobi, Skywalker")
    job.refresh_from_db()
    assert (job.status, job.language, job.hotwords, job.itn) == (
        JobStatus.QUEUED, "en", "Kenobi\nSkywalker", True
    )  # fmt: skip
