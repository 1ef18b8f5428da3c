"""A Chinese browser in Shanghai: the main pages show no English interface text (the catalog's
English msgids), and dates in Shanghai time, in Chinese."""

import re
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

import polib
import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from tests.conftest import BROWSER_PASSWORD, log_in, open_page, screenshot, wait_for_page
from tests.factories import SucceededJobFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CATALOG = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1366, "height": 800}}
SHANGHAI = ZoneInfo("Asia/Shanghai")


def english_interface_texts() -> set[str]:
    """The catalogs' whole English strings (no placeholders, no markup)."""
    return {
        entry.msgid.strip()
        for domain in ("django", "djangojs")
        for entry in polib.pofile(CATALOG / f"{domain}.po")
        if "%" not in entry.msgid and "<" not in entry.msgid and "{" not in entry.msgid
        and re.search(r"[A-Za-z]{2}", entry.msgid)
    }  # fmt: skip


def english_left(text: str, user_data: list[str]) -> list[str]:
    for data in user_data:
        text = text.replace(data, " ")
    return sorted(
        msgid
        for msgid in english_interface_texts()
        if re.search(rf"(?<![A-Za-z]){re.escape(msgid)}(?![A-Za-z])", text)
    )


def test_a_chinese_browser_sees_chinese_pages_and_shanghai_time(
    portal_server, browser, django_user_model, tmp_path
):
    user = django_user_model.objects.create_user("li", password=BROWSER_PASSWORD)
    created = timezone.now().replace(hour=20, minute=34) - timedelta(days=1)  # 04:34 next day
    job = SucceededJobFactory(recording__owner=user, recording__created_at=created)
    recording = job.recording
    local = created.astimezone(SHANGHAI)
    user_data = [
        user.get_username(),
        recording.name,
        job.text,
        *job.segments.values_list("text", flat=True),
    ]
    user_data += ["English", "Voxa", job.model]  # the switch's own name, the brand, a model name

    with open_page(browser, locale="zh-CN", timezone_id="Asia/Shanghai") as page:
        log_in(page, portal_server, "li")
        expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
        pages = {
            "upload": "/",
            "history": "/history/",
            "recording": f"/recordings/{recording.pk}/",
            "search": "/search/?q=General",
            "preferences": "/accounts/preferences/",
        }
        for name, path in pages.items():
            page.goto(f"{portal_server}{path}")
            if name == "history":
                wait_for_page(page, "document.querySelectorAll('#recordings-body tr').length > 0")
                history_text = page.inner_text("body")
            if name == "recording":
                expect(page.get_by_test_id("segments")).to_have_attribute("lang", "en")
                expect(page.get_by_test_id("recording-meta")).not_to_be_empty()
            page.wait_for_load_state("networkidle")
            text = page.inner_text("body")
            # The time zone list's IANA names are names, not interface text.
            zones = (
                sorted(available_timezones(), key=len, reverse=True)
                if name == "preferences"
                else []
            )
            assert english_left(text, [*user_data, *zones]) == [], name
            for size_name, size in SIZES.items():
                if name in ("upload", "recording"):
                    page.set_viewport_size(size)
                    screenshot(page, tmp_path, f"zh-{name}-{size_name}")

        # Dates in Chinese and Shanghai time, in the scripts' rendering and on the server's side.
        assert f"{local.year}年{local.month}月{local.day}日" in history_text
        assert f"{local:%H:%M}" in history_text
        page.goto(f"{portal_server}/accounts/preferences/")
        expect(page.locator("html")).to_have_attribute("data-time-zone", "Asia/Shanghai")
        expect(page.get_by_test_id("preferences-form")).to_contain_text("Asia/Shanghai")
