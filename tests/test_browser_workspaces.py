"""Workspaces in a real browser: the header's switcher, an upload into a team that a teammate's
history shows live, moving a recording into a team, and the pages on a phone and a desktop."""

import re

import pytest
from playwright.sync_api import Page, expect

from accounts.models import Role
from tests.audio_files import speech
from tests.conftest import (
    BROWSER_PASSWORD,
    JOB_TIMEOUT_MS,
    SCREENS,
    TINY_MODEL,
    job_events,
    log_in,
    mark_page,
    not_reloaded,
    open_page,
    screenshot,
    statuses_of,
    switch_to,
)
from tests.factories import MembershipFactory, SucceededJobFactory, TeamFactory
from transcription.models import Recording

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CLIP = speech("en_librispeech_1995-1837-0001.wav")


def user(django_user_model, username: str):
    return django_user_model.objects.create_user(username, password=BROWSER_PASSWORD)


def owned_team(owner, name: str, **fields: object):
    # Factories, not the services: these would tell the owner's sockets (none is open yet) from
    # the thread where Playwright's event loop runs, which async_to_sync refuses.
    team = TeamFactory(name=name, **fields)
    MembershipFactory(team=team, user=owner, role=Role.OWNER)
    return team


def test_an_upload_into_the_team_shows_live_in_a_teammates_history(
    portal_server, celery_worker, django_user_model, browser, page
):
    olga, pavel = user(django_user_model, "olga"), user(django_user_model, "pavel")
    research = owned_team(olga, "Research", default_model=TINY_MODEL, default_itn=False)
    MembershipFactory(team=research, user=pavel, role=Role.MEMBER)
    SucceededJobFactory(recording__owner=pavel, recording__name="diary.wav")

    with open_page(browser) as teammate:
        log_in(teammate, portal_server, "pavel")
        teammate.get_by_test_id("nav-history").click()
        expect(teammate.get_by_test_id("recording-row")).to_have_text(re.compile("diary.wav"))
        events = job_events(teammate)
        switch_to(teammate, "Team: Research (member)")
        expect(teammate).to_have_url(f"{portal_server}/history/")
        expect(teammate.get_by_test_id("workspace-badge")).to_have_text("Team: Research")
        expect(teammate.get_by_test_id("history-empty")).to_be_visible()
        mark_page(teammate)

        log_in(page, portal_server, "olga")
        expect(page.get_by_test_id("workspace-badge")).to_have_text("Personal")
        expect(page.get_by_test_id("private")).to_have_count(0)
        switch_to(page, "Team: Research (owner)")
        expect(page.get_by_test_id("workspace-badge")).to_have_text("Team: Research")
        # The team's defaults are preselected.
        expect(page.locator("#model")).to_have_value(TINY_MODEL)
        expect(page.get_by_test_id("itn")).not_to_be_checked()
        expect(page.get_by_test_id("private")).not_to_be_checked()
        page.set_input_files("#file-input", CLIP)

        row = teammate.get_by_test_id("recording-row").filter(has_text=CLIP.name)
        expect(row.get_by_test_id("status-cell")).to_contain_text("Done", timeout=JOB_TIMEOUT_MS)
        expect(teammate.get_by_test_id("recording-row")).to_have_count(1)  # not the diary
        assert not_reloaded(teammate)

    recording = Recording.objects.get(name=CLIP.name)
    # Followed as it ran, not only told the end: the job's events reached the teammate's page.
    seen = statuses_of(events, recording.jobs.get().pk)
    assert "running" in seen and seen[-1] == "succeeded", seen
    assert (recording.owner, recording.team, recording.private) == (olga, research, False)
    job = recording.jobs.get()
    assert (job.model, job.itn) == (TINY_MODEL, False)
    # The upload page opens the transcript, which says where it lives.
    expect(page).to_have_url(f"{portal_server}/recordings/{recording.pk}/")
    expect(page.get_by_test_id("recording-workspace")).to_contain_text("Team: Research")
    page.get_by_test_id("nav-history").click()
    expect(page.get_by_test_id("workspace-badge")).to_have_text("Team: Research")
    expect(page.get_by_test_id("recording-row")).to_have_text(re.compile(CLIP.name))


def test_a_recording_moved_into_a_team_leaves_the_personal_history_shown(
    portal_server, django_user_model, page
):
    rita = user(django_user_model, "rita")
    research = owned_team(rita, "Research")
    job = SucceededJobFactory(recording__owner=rita, recording__name="interview.wav")
    log_in(page, portal_server, "rita")
    page.get_by_test_id("nav-history").click()
    history_row = page.get_by_test_id("recording-row").filter(has_text="interview.wav")
    expect(history_row).to_be_visible()

    recording_tab = page.context.new_page()
    recording_tab.goto(f"{portal_server}/recordings/{job.recording_id}/")
    expect(recording_tab.get_by_test_id("recording-workspace")).to_have_text(re.compile("Personal"))
    recording_tab.get_by_text("Move to team").click()
    recording_tab.get_by_test_id("move-team").select_option(label="Research")
    recording_tab.get_by_test_id("move-private").check()
    recording_tab.get_by_test_id("move-submit").click()

    expect(recording_tab.get_by_test_id("messages")).to_have_text(
        "“interview.wav” moved to Team: Research."
    )
    expect(recording_tab.get_by_test_id("recording-workspace")).to_contain_text("Team: Research")
    expect(recording_tab.get_by_test_id("move-to-team")).to_have_count(0)
    # The personal history still open in the other tab lets it go, live.
    expect(history_row).to_have_count(0)
    expect(page.get_by_test_id("history-empty")).to_be_visible()
    recording = Recording.objects.get(pk=job.recording_id)
    assert (recording.team, recording.private) == (research, True)


def test_the_switcher_works_without_javascript(portal_server, django_user_model, browser):
    sara = user(django_user_model, "sara")
    owned_team(sara, "Research")
    with open_page(browser, java_script_enabled=False) as page:
        page.goto(f"{portal_server}/accounts/login/")
        page.fill("#id_username", "sara")
        page.fill("#id_password", BROWSER_PASSWORD)
        page.click("[data-testid=login-submit]")
        page.goto(f"{portal_server}/search/")

        page.get_by_test_id("workspace-switcher").select_option(label="Team: Research (owner)")
        expect(page.get_by_test_id("workspace-badge")).to_have_text("Personal")  # not sent yet
        page.get_by_test_id("workspace-submit").click()

        expect(page).to_have_url(f"{portal_server}/search/")
        expect(page.get_by_test_id("workspace-badge")).to_have_text("Team: Research")


def header_fits(page: Page) -> None:
    """Nothing sticks out sideways: no horizontal scrolling, the switcher within the screen."""
    width = page.viewport_size["width"]
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    for testid in ("workspace-switcher", "nav-username", "logout"):
        box = page.get_by_test_id(testid).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, (testid, box)


def test_the_workspace_pages_fit_a_phone_and_a_desktop(
    portal_server, django_user_model, browser, tmp_path
):
    quinn = user(django_user_model, "quinn-with-a-longer-name")
    long_team = owned_team(quinn, "Research and Development")
    owned_team(quinn, "Sales")
    SucceededJobFactory(
        recording__owner=quinn,
        recording__team=long_team,
        recording__name="quarterly-planning-meeting.wav",
        segments=["We plan the quarter.", "The plan is ambitious."],
    )
    personal = SucceededJobFactory(
        recording__owner=quinn, recording__name="voice-memo.wav", recording__audio=CLIP.name
    ).recording
    pages = {
        "upload": "/",
        "history": "/history/",
        "search": "/search/?q=plan",
        "recording": f"/recordings/{personal.pk}/",
    }
    for size_name, size in SCREENS.items():
        with open_page(browser, viewport=size) as page:
            log_in(page, portal_server, quinn.username)
            switch_to(page, "Team: Research and Development (owner)")
            for name, path in pages.items():
                page.goto(f"{portal_server}{path}")
                expect(page.get_by_test_id("workspace-switcher")).to_be_visible()
                expect(page.get_by_test_id("workspace-submit")).to_be_hidden()
                if name == "recording":
                    expect(page.get_by_test_id("recording-workspace")).to_contain_text("Personal")
                    page.get_by_text("Move to team").click()
                    expect(page.get_by_test_id("move-submit")).to_be_visible()
                else:
                    expect(page.get_by_test_id("workspace-badge")).to_have_text(
                        "Team: Research and Development"
                    )
                if name == "history":
                    expect(page.get_by_test_id("recording-row")).to_have_count(1)
                    table = page.get_by_test_id("recordings-table")
                    # Every action in reach, none scrolled out of the table's frame.
                    assert table.evaluate("t => t.scrollWidth <= t.clientWidth")
                    # Below History's filters on a phone: in view once scrolled to, not off a side.
                    page.get_by_test_id("delete").scroll_into_view_if_needed()
                    expect(page.get_by_test_id("delete")).to_be_in_viewport()
                if name == "search":
                    expect(page.get_by_test_id("search-hit")).to_have_count(2)
                header_fits(page)
                screenshot(page, tmp_path, f"{name}-{size_name}")
