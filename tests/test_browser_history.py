"""The History page's filter bar in a real browser: the filters go to the server and into the
URL (the back button brings the previous ones back), pages, and the bar at 390 and 1366 px."""

import re
import zipfile

import pytest
from playwright.sync_api import expect

from tests.conftest import BROWSER_PASSWORD, log_in, screenshot
from tests.factories import JobFactory, SucceededJobFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_filters_are_kept_in_the_url_and_the_back_button_restores_them(
    portal_server, django_user_model, browser, tmp_path
):
    wanda = django_user_model.objects.create_user("wanda", password=BROWSER_PASSWORD)
    SucceededJobFactory(recording__owner=wanda, recording__name="budget-review.wav")
    SucceededJobFactory(
        recording__owner=wanda, recording__name="standup.wav", segments=["the BUDGET"]
    )
    JobFactory(recording__owner=wanda, recording__name="waiting.wav")
    page = browser.new_page(viewport={"width": 1366, "height": 900}, accept_downloads=True)
    log_in(page, portal_server, "wanda")
    page.goto(f"{portal_server}/history/")
    rows = page.get_by_test_id("recording-row")
    expect(rows).to_have_count(3)

    page.get_by_test_id("filter-q").fill("budget")
    page.get_by_test_id("filter-ordering").select_option("name")
    page.get_by_test_id("filter-apply").click()
    expect(page).to_have_url(re.compile(r"\?q=budget&ordering=name$"))
    expect(rows).to_have_text([re.compile("budget-review.wav"), re.compile("standup.wav")])
    screenshot(page, tmp_path, "history-filtered")

    page.get_by_test_id("filter-status").select_option("queued")
    page.get_by_test_id("filter-apply").click()
    expect(page.get_by_test_id("history-none-match")).to_be_visible()

    page.go_back()
    expect(page.get_by_test_id("filter-status")).to_have_value("")
    expect(rows).to_have_count(2)
    page.reload()  # the URL alone brings the filters back
    expect(page.get_by_test_id("filter-q")).to_have_value("budget")
    expect(rows).to_have_count(2)

    # Both rows chosen: the zip of their transcripts downloads.
    page.get_by_test_id("select-page").check()
    expect(page.get_by_test_id("bulk-bar")).to_be_visible()
    page.get_by_test_id("bulk-format").select_option("vtt")
    with page.expect_download() as download:
        page.get_by_test_id("bulk-export").click()
    assert download.value.suggested_filename == "transcripts.zip"
    with zipfile.ZipFile(download.value.path()) as archive:
        assert sum(name.endswith(".vtt") for name in archive.namelist()) == 2

    page.set_viewport_size({"width": 390, "height": 844})
    bar = page.get_by_test_id("history-filters").bounding_box()
    assert bar["width"] <= 390
    screenshot(page, tmp_path, "history-filtered")
    page.close()
