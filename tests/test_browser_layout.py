"""Every page at a phone's width (390 px), a desktop's (1366 px) and at 200% zoom: each visible
control inside the viewport and not clipped by an overflowing box, the actions in line with
their row, axe-core clean in light and dark, the theme switch remembered, the styled error
pages. One browser, one portal, one page per size."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from accounts.models import Role
from tests.conftest import (
    BROWSER_PASSWORD,
    assert_accessible,
    log_in,
    open_page,
    screenshot,
    wait_for_page,
)
from tests.factories import MembershipFactory, SucceededJobFactory, TeamFactory
from transcription.models import HotwordList

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 768}
# 200% zoom on a 1366 px screen: CSS sees half the width, at twice the pixel density.
# The page's background (--bg) in each scheme.
LIGHT_BACKGROUND, DARK_BACKGROUND = "rgb(246, 247, 249)", "rgb(17, 20, 26)"
STACKED_TABLES_UP_TO = 760  # the stylesheet's breakpoint for stacked table rows
ZOOMED = {"viewport": {"width": 683, "height": 384}, "device_scale_factor": 2}

# Every control a user may see or use; the off-screen skip link and visually hidden labels are
# not drawn until focused.
CONTROLS_OUT_OF_VIEW = """() => {
  const root = document.documentElement, width = root.clientWidth, problems = [];
  if (root.scrollWidth > width + 1) problems.push(`scrolls sideways: ${root.scrollWidth}`);
  const controls = "a[href], button, input, select, textarea, summary, audio[controls]";
  for (const element of document.querySelectorAll(controls)) {
    if (element.closest(".skip-link, .visually-hidden")) continue;
    const box = element.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;  // not rendered (hidden)
    const label = (element.textContent || element.name || element.id).trim().slice(0, 30);
    const name = `${element.tagName.toLowerCase()} "${label}"`;
    if (box.left < -1 || box.right > width + 1) problems.push(`${name} outside the viewport`);
    for (let parent = element.parentElement; parent; parent = parent.parentElement) {
      if (getComputedStyle(parent).overflowX === "visible") continue;
      const clip = parent.getBoundingClientRect();
      if (box.left < clip.left - 1 || box.right > clip.right + 1) {
        problems.push(`${name} cut off by a ${parent.tagName.toLowerCase()}.${parent.className}`);
      }
    }
  }
  return problems;
}"""

# Each table row's actions cell: its middle on the row's middle (a flex cell falls out of line).
ACTIONS_OUT_OF_LINE = """() => [...document.querySelectorAll("table.table td.actions")]
  .filter((cell) => {
    const row = cell.parentElement.getBoundingClientRect(), box = cell.getBoundingClientRect();
    const offset = Math.abs(row.top + row.bottom - box.top - box.bottom) / 2;
    return offset > 2 || box.height < row.height - 2;
  }).length"""


@pytest.fixture
def site(django_user_model):
    """A user with something on every page: a transcript, a hotword list, a team."""
    sam = django_user_model.objects.create_user("sam", password=BROWSER_PASSWORD)
    job = SucceededJobFactory(recording__owner=sam, recording__name="standup-notes.wav")
    HotwordList.objects.create(owner=sam, name="Product names", words="Voxa\nParaformer")
    team = TeamFactory(name="Research")
    MembershipFactory(team=team, user=sam, role=Role.OWNER)
    return {"user": sam, "recording": job.recording, "team": team}


def page_paths(site) -> dict[str, tuple[str, str]]:
    """Each page's path, and what shows once its script has drawn it."""
    return {
        "upload": ("/", "#main"),
        "history": ("/history/", "[data-testid=recording-row]"),
        "recording": (f"/recordings/{site['recording'].pk}/", "[data-testid=segments] li"),
        "search": ("/search/?q=Kenobi", "[data-testid=search-hit]"),
        "hotwords": ("/hotwords/", "[data-testid=hotword-list]"),
        "teams": ("/teams/", "#main"),
        "team": (f"/teams/{site['team'].pk}/", "#main"),
        "workers": ("/workers/", "[data-testid=queue-empty]:not([hidden])"),
        "not-found": ("/recordings/999999/", "[data-testid=error-page]"),
    }


def visit(page: Page, url: str, ready: str) -> None:
    page.goto(url)
    page.locator(ready).first.wait_for()


def check_page(page: Page, url: str, ready: str, name: str, shots: Path, size: dict) -> None:
    visit(page, url, ready)
    assert page.evaluate(CONTROLS_OUT_OF_VIEW) == [], name
    if page.viewport_size["width"] > STACKED_TABLES_UP_TO:  # stacked rows have no row line
        assert page.evaluate(ACTIONS_OUT_OF_LINE) == 0, name
    if "axe" in size:
        assert_accessible(page, size["axe"])
    screenshot(page, shots, name)  # looked at by hand: the checks above cannot see overlaps


# The desktop in the light with all of axe-core's rules; the phone in the dark (the system's
# scheme, emulated) with the rule a scheme changes, contrast; the zoomed window for its layout.
SIZES = [
    {"viewport": DESKTOP, "color_scheme": "light", "axe": None},
    {"viewport": PHONE, "color_scheme": "dark", "axe": ["color-contrast"]},
    ZOOMED,
]


def test_every_page_fits_a_phone_a_desktop_and_200_percent_zoom_and_is_accessible(
    portal_server, browser, site, tmp_path
):
    site["user"].is_staff = True
    site["user"].save(update_fields=["is_staff"])
    paths = page_paths(site)
    for size in SIZES:
        with open_page(browser, **{key: size[key] for key in size if key != "axe"}) as page:
            page.goto(f"{portal_server}/accounts/login/")
            assert page.evaluate(CONTROLS_OUT_OF_VIEW) == []
            if "axe" in size:
                assert_accessible(page, size["axe"])
            log_in(page, portal_server, "sam")
            expected = DARK_BACKGROUND if size.get("color_scheme") == "dark" else LIGHT_BACKGROUND
            assert background(page) == expected
            for name, (path, ready) in paths.items():
                check_page(page, f"{portal_server}{path}", ready, name, tmp_path, size)
            if size["viewport"] == PHONE:
                # The hotword list's state and its switch on a phone.
                visit(page, f"{portal_server}/hotwords/", "[data-testid=hotword-list]")
                row = page.get_by_test_id("hotword-list")
                expect(row.get_by_text("Yes")).to_be_in_viewport()
                expect(row.get_by_test_id("hotword-toggle")).to_be_in_viewport()


def test_the_theme_switch_overrides_the_system_and_is_remembered(portal_server, browser, site):
    with open_page(browser, viewport=DESKTOP, color_scheme="dark") as page:
        log_in(page, portal_server, "sam")
        assert background(page) == DARK_BACKGROUND
        page.get_by_test_id("theme-switcher").select_option("light")
        assert background(page) == LIGHT_BACKGROUND
        page.goto(f"{portal_server}/history/")  # remembered, and applied before the first paint
        expect(page.get_by_test_id("theme-switcher")).to_have_value("light")
        assert background(page) == LIGHT_BACKGROUND
        page.get_by_test_id("theme-switcher").select_option("system")
        page.reload()
        assert background(page) == DARK_BACKGROUND


def background(page: Page) -> str:
    return page.evaluate("() => getComputedStyle(document.body.parentElement).backgroundColor")


def test_error_pages_are_styled_with_navigation(portal_server, browser, site):
    with open_page(browser, viewport=PHONE) as page:
        log_in(page, portal_server, "sam")
        response = page.goto(f"{portal_server}/recordings/{site['recording'].pk + 1000}/")
        assert response.status == 404
        expect(page.get_by_test_id("error-title")).to_have_text("Page not found")
        assert_accessible(page)
        expect(page.get_by_test_id("nav-history")).to_be_visible()
        response = page.goto(f"{portal_server}/workers/")  # sam is not staff
        assert response.status == 403
        expect(page.get_by_test_id("error-page")).to_contain_text("workers page is for site staff")
        assert_accessible(page)
        page.get_by_test_id("error-home").click()
        expect(page).to_have_url(f"{portal_server}/")


def test_the_skip_link_and_the_recording_pages_shortcuts(portal_server, browser, site):
    job = SucceededJobFactory(
        recording__owner=site["user"], recording__audio="en_librispeech_1995-1837-0001.wav"
    )
    with open_page(browser, viewport=DESKTOP) as page:
        log_in(page, portal_server, "sam")
        visit(page, f"{portal_server}/recordings/{job.recording_id}/", "[data-testid=segments] li")
        page.keyboard.press("Tab")
        skip = page.get_by_test_id("skip-link")
        expect(skip).to_be_focused()
        expect(skip).to_be_in_viewport()
        page.keyboard.press("Enter")
        expect(page.locator("#main")).to_be_focused()
        wait_for_page(page, "() => document.getElementById('player').readyState >= 1")
        for key, expected in [("l", 5), ("j", 0), ("j", 0), ("ArrowRight", 5), ("ArrowLeft", 0)]:
            page.keyboard.press(key)
            assert current_time(page) == expected, key
        page.keyboard.press("n")  # the next line: the second starts at 2.5 s
        wait_for_page(page, "() => document.getElementById('player').currentTime === 2.5")
        page.keyboard.press("p")
        wait_for_page(page, "() => document.getElementById('player').currentTime === 0")
        # Not while typing: in a line's editor, l is a letter.
        page.get_by_test_id("edit-line").first.click()
        page.get_by_test_id("line-text").focus()
        page.keyboard.press("l")
        expect(page.get_by_test_id("line-text")).to_have_value("Hello there.l")
        assert current_time(page) == 0


def current_time(page: Page) -> float:
    return page.evaluate("() => document.getElementById('player').currentTime")
