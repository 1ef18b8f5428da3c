"""The workers page in a real browser, for staff: a real worker appears live as it starts, its
answer to "clear cache" shows on its card, pause and resume show in its state, a waiting job is
cancelled from the queue, the audit log lists all of it, and a worker killed shows offline after
three of its heartbeats."""

import os
import re
import time

import pytest
from playwright.sync_api import expect

from tests.conftest import (
    BROWSER_PASSWORD,
    SCREENS,
    log_in,
    mark_page,
    not_reloaded,
    screenshot,
    start_worker,
    stop_process,
)
from tests.factories import JobFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HEARTBEAT_S = 1
# A queue of its own: this worker takes no other test's jobs.
QUEUE = "voxa-workers-page-tests"


def test_a_live_worker_answers_its_actions_on_the_page_and_goes_offline_when_killed(
    portal_server, process_env, django_user_model, page, tmp_path
):
    django_user_model.objects.create_user("stella", password=BROWSER_PASSWORD, is_staff=True)
    # Waiting, and never sent to a broker: it stays in the queue.
    waiting = JobFactory(recording__owner__username="olga", recording__duration_s=90)
    log_in(page, portal_server, "stella")
    page.get_by_test_id("nav-workers").click()
    expect(page).to_have_url(f"{portal_server}/workers/")
    expect(page.get_by_test_id("live-state")).to_have_text("Live")
    queued = page.get_by_test_id("queue-row")
    expect(queued).to_have_count(1)
    expect(queued).to_have_attribute("data-job", str(waiting.pk))
    expect(queued).to_contain_text("olga")
    expect(page.get_by_test_id("queue-totals")).to_contain_text("1 job waiting · 0.03 h of audio")
    mark_page(page)

    name = f"page-{os.getpid()}@localhost"
    env = {**process_env, "WORKER_HEARTBEAT_S": str(HEARTBEAT_S), "ASR_DEVICE": "cpu"}
    worker = start_worker(env, name, QUEUE, tmp_path / "worker.log")
    try:
        card = page.locator(f'[data-testid=worker-card][data-worker="{name}"]')
        state = card.get_by_test_id("worker-state")
        expect(state).to_have_text("Running")
        facts = card.locator(".worker-facts")
        for shown in (str(worker.pid), QUEUE, "CPU", "Jobs done"):
            expect(facts).to_contain_text(shown)
        assert not_reloaded(page)  # it came over the socket

        answer = card.get_by_test_id("worker-answer")
        card.get_by_test_id("action-clear_cache").click()
        expect(answer).to_have_text(re.compile(r"^Clear cache: .*nothing to clear", re.I))
        expect(answer).to_have_attribute("data-state", "ok")

        # To every worker (others' may be up too, and one just killed may not answer): each
        # answer on its card.
        page.get_by_test_id("fleet").get_by_test_id("action-clear_cache").click()
        fleet_answer = page.get_by_test_id("fleet-answer")
        expect(fleet_answer).to_have_text(re.compile(r"^Clear cache: sent to \d+ workers?"))
        expect(fleet_answer).not_to_contain_text(name)  # not among those that failed
        expect(answer).to_have_text(re.compile(r"^Clear cache: .*nothing to clear", re.I))

        card.get_by_test_id("action-pause").click()
        expect(answer).to_have_text(re.compile(r"^Pause: "))
        expect(state).to_have_text("Paused")  # from its answer at once
        # Then from its heartbeats, once the page no longer holds the answer's state (2 s).
        page.wait_for_timeout(2000 + 1000 * HEARTBEAT_S)
        expect(state).to_have_text("Paused")
        for size, screen in SCREENS.items():
            page.set_viewport_size(screen)
            screenshot(page, tmp_path, f"workers-{size}")
        card.get_by_test_id("action-resume").click()
        expect(state).to_have_text("Running")

        page.once("dialog", lambda dialog: dialog.accept())
        queued.get_by_test_id("cancel-job").click()
        expect(queued).to_have_count(0)
        expect(page.get_by_test_id("queue-totals")).to_have_text("Nothing is waiting.")
        audit = page.get_by_test_id("audit-row")
        expect(audit).to_have_count(5)
        for row, (action, target) in zip(
            audit.all(),
            [("Cancel job", f"job {waiting.pk}"), ("Resume", name), ("Pause", name),
             ("Clear cache", "all workers"), ("Clear cache", name)],
            strict=True,
        ):  # fmt: skip
            expect(row).to_contain_text(f"stella{action}{target}OK")

        worker.kill()  # SIGKILL: no goodbye, its heartbeats only stop
        killed_at = time.monotonic()
        expect(state).to_have_text("Offline", timeout=(3 * HEARTBEAT_S + 2) * 1000)
        assert time.monotonic() - killed_at <= 3 * HEARTBEAT_S + 2
        expect(card.get_by_test_id("worker-seen")).to_contain_text("No heartbeat since")
        expect(card.get_by_test_id("action-pause")).to_be_disabled()
    finally:
        stop_process(worker)  # its speech detectors, in its process group

    # Reloaded, the server's list says so too: its status expired with it.
    page.reload()
    expect(card.get_by_test_id("worker-state")).to_have_text("Offline")
    expect(card.get_by_test_id("worker-seen")).to_contain_text("No heartbeat since")
