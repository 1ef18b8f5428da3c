"""A waiting job's place in a real browser: the history and recording pages say where it stands
and when it should start, and move it up live when a job ahead leaves the queue."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.conftest import (
    BROWSER_PASSWORD,
    SCREENS,
    log_in,
    mark_page,
    not_reloaded,
    open_page,
    screenshot,
)
from tests.factories import JobFactory, SucceededJobFactory
from transcription import services
from transcription.models import Job

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_waiting_jobs_place_shows_and_moves_up_live(
    portal_server, django_user_model, browser, tmp_path
):
    rosa = django_user_model.objects.create_user("rosa", password=BROWSER_PASSWORD)
    now = timezone.now()
    # The fleet was measured at 0.1 audio seconds a second: 12.5 s of audio ahead, about 2 min.
    SucceededJobFactory(started_at=now - timedelta(seconds=125), finished_at=now)
    ahead = JobFactory(queued_at=now)  # another user's, sent first
    mine = JobFactory(
        recording__owner=rosa,
        recording__name="board-meeting-with-a-long-name.wav",
        queued_at=now + timedelta(seconds=1),
    )
    phone, desktop = SCREENS["phone"], SCREENS["desktop"]
    with open_page(browser, viewport=phone) as page:
        shows_its_place(page, portal_server, mine, tmp_path)
    with open_page(browser, viewport=desktop) as page:
        shows_its_place(page, portal_server, mine, tmp_path)
        mark_page(page)
        # Cancelled by its owner, the job ahead leaves the queue and Rosa's is next.
        in_thread(lambda: services.job_cancel(job=ahead))
        expect(page.get_by_test_id("status-cell")).to_contain_text(
            "#1 in queue, starts in under a minute"
        )
        assert not_reloaded(page)


def shows_its_place(page: Page, base_url: str, job: Job, folder: Path) -> None:
    """The recording page, then the history (left open), say where `job` waits; both fit."""
    log_in(page, base_url, job.owner.username)
    page.goto(f"{base_url}/recordings/{job.recording_id}/")
    expect(page.get_by_test_id("job-detail")).to_contain_text("#2 in queue, starts in about 2 min")
    screenshot(page, folder, "recording")
    page.goto(f"{base_url}/history/")
    expect(page.get_by_test_id("status-cell")).to_contain_text("#2 in queue, starts in about 2 min")
    assert page.get_by_test_id("recordings-table").evaluate("t => t.scrollWidth <= t.clientWidth")
    screenshot(page, folder, "history")


def in_thread(work: Callable[[], object]) -> None:
    """Away from the thread where Playwright's event loop runs (async_to_sync refuses it); the
    thread's database connection is closed after."""

    def run() -> None:
        try:
            work()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(run).result()
