"""A team invitation in a real browser, end to end: the owner invites by e-mail on the team page,
the invited person makes an account on the link's page and uploads into the team, and the owner's
history, open all along, shows the recording's progress live. Then the team and invitation pages
on a phone and a desktop."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from accounts.models import Invitation, Membership, Role
from tests.audio_files import speech
from tests.conftest import (
    BROWSER_CHUNK_MB,
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
    serve_portal,
    statuses_of,
    switch_to,
)
from tests.factories import MembershipFactory, TeamFactory
from tests.teams import LINK
from transcription.models import Recording

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CLIP = speech("en_librispeech_1995-1837-0001.wav")
NEW_PASSWORD = "quiet-harbour-lantern-42"


@pytest.fixture(scope="module")
def mail_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("mail")


@pytest.fixture(scope="module")
def mailing_portal(process_env, mail_dir) -> Iterator[str]:
    """The portal with its e-mail written to files in `mail_dir` (django-environ's filemail
    scheme; four slashes keep the path absolute). The shared portal_server logs e-mail to the
    console instead, where the test cannot read it apart from everything else."""
    env = {
        **process_env,
        "EMAIL_URL": f"filemail:///{mail_dir}",
        "UPLOAD_CHUNK_MB": BROWSER_CHUNK_MB,
    }
    with serve_portal(env, mail_dir.parent / "web-mail.log") as url:
        yield url


def sent_link(mail_dir: Path, address: str) -> str:
    """The invitation link in the one e-mail written to `address`."""
    to = re.compile(rf"^To: {re.escape(address)}$", re.MULTILINE)
    messages = [text for file in mail_dir.iterdir() if to.search(text := file.read_text())]
    assert len(messages) == 1, messages
    found = LINK.search(messages[0])
    assert found, messages[0]
    return found.group(0)


def invite(page: Page, address: str) -> None:
    form = page.get_by_test_id("invite-form")
    form.get_by_label("E-mail address").fill(address)
    form.get_by_label("Role").select_option("member")
    form.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_test_id("messages")).to_contain_text(f"Invitation sent to {address}.")
    expect(page.get_by_test_id("invitation").filter(has_text=address)).to_be_visible()


# Where text or boxes stick out past the right edge of the screen: the elements, as
# "tag.class" with the right edge in pixels.
STICKING_OUT = """(width) => {
  const name = (e) => e.tagName.toLowerCase() + [...e.classList].map((c) => "." + c).join("");
  const found = [];
  for (const e of document.querySelectorAll("body *")) {
    if (e.getBoundingClientRect().right > width + 0.5) found.push(name(e));
  }
  const texts = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  while (texts.nextNode()) {
    range.selectNodeContents(texts.currentNode);
    const right = range.getBoundingClientRect().right;
    const parent = name(texts.currentNode.parentElement);
    if (right > width + 0.5) found.push(`text in ${parent} ${Math.round(right)}`);
  }
  return found;
}"""


def fits_sideways(page: Page) -> None:
    """No horizontal scrolling; else the elements to blame."""
    width = page.viewport_size["width"]
    scroll_width = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll_width <= width, (scroll_width, page.evaluate(STICKING_OUT, width))


def test_an_invited_newcomer_uploads_into_the_team_and_the_owner_sees_it_live(
    mailing_portal, mail_dir, celery_worker, django_user_model, browser, page
):
    base = mailing_portal
    olga = django_user_model.objects.create_user(
        "olga", email="olga@example.com", password=BROWSER_PASSWORD
    )
    # Factories, not the services: these would tell sockets from the thread where Playwright's
    # event loop runs, which async_to_sync refuses.
    team = TeamFactory(name="Field Research", default_model=TINY_MODEL, default_itn=False)
    MembershipFactory(team=team, user=olga, role=Role.OWNER)

    # The owner invites on the team page.
    log_in(page, base, "olga")
    page.get_by_test_id("nav-teams").click()
    page.get_by_role("link", name="Field Research").click()
    expect(page).to_have_url(f"{base}/teams/{team.pk}/")
    invite(page, "nina@example.com")
    link = sent_link(mail_dir, "nina@example.com")
    assert link.startswith(f"{base}/invitations/")

    # Then watches the team's history.
    switch_to(page, "Team: Field Research (owner)")
    events = job_events(page)
    page.get_by_test_id("nav-history").click()
    expect(page.get_by_test_id("workspace-badge")).to_have_text("Team: Field Research")
    expect(page.get_by_test_id("history-empty")).to_be_visible()
    mark_page(page)

    with open_page(browser) as newcomer:
        # The link, without an account: choose a username and a password.
        newcomer.goto(link)
        expect(newcomer.get_by_test_id("invitation-summary")).to_have_text(
            re.compile(r"olga invites you\s+to the team Field Research as member\.")
        )
        signup = newcomer.get_by_test_id("invitation-signup")
        signup.locator("#id_username").fill("nina")
        signup.locator("#id_password1").fill(NEW_PASSWORD)
        signup.locator("#id_password2").fill(NEW_PASSWORD)
        signup.get_by_role("button", name="Create account and join").click()

        expect(newcomer).to_have_url(f"{base}/teams/{team.pk}/")
        expect(newcomer.get_by_test_id("messages")).to_have_text(
            "Welcome to Voxa and to the team Field Research."
        )
        expect(newcomer.get_by_test_id("nav-username")).to_have_text("nina")
        expect(newcomer.get_by_test_id("my-role")).to_have_text("You: member")

        # Into the team's workspace, and up goes a file.
        newcomer.get_by_test_id("nav-upload").click()
        switch_to(newcomer, "Team: Field Research (member)")
        expect(newcomer.get_by_test_id("workspace-badge")).to_have_text("Team: Field Research")
        expect(newcomer.locator("#model")).to_have_value(TINY_MODEL)
        newcomer.set_input_files("#file-input", CLIP)

        # The owner's history follows it without a reload.
        row = page.get_by_test_id("recording-row").filter(has_text=CLIP.name)
        expect(row.get_by_test_id("status-cell")).to_contain_text("Done", timeout=JOB_TIMEOUT_MS)
        expect(page.get_by_test_id("recording-row")).to_have_count(1)
        assert not_reloaded(page)
        recording = Recording.objects.get(name=CLIP.name)
        # Followed as it ran, not only told the end: the job's events reached the owner's page.
        seen = statuses_of(events, recording.jobs.get().pk)
        assert "running" in seen and seen[-1] == "succeeded", seen
        expect(newcomer).to_have_url(f"{base}/recordings/{recording.pk}/")

    nina = django_user_model.objects.get(username="nina")
    assert nina.email == "nina@example.com"
    assert Membership.objects.get(team=team, user=nina).role == Role.MEMBER
    assert Invitation.objects.get(email="nina@example.com").accepted_by == nina
    assert (recording.owner, recording.team, recording.private) == (nina, team, False)
    assert recording.jobs.get().model == TINY_MODEL


def test_the_team_and_invitation_pages_fit_a_phone_and_a_desktop(
    portal_server, django_user_model, browser, tmp_path
):
    olga = django_user_model.objects.create_user(
        "olga", email="olga@example.com", password=BROWSER_PASSWORD
    )
    nina = django_user_model.objects.create_user("nina", email="nina@example.com")
    team = TeamFactory(name="Field Research")
    MembershipFactory(team=team, user=olga, role=Role.OWNER)
    MembershipFactory(team=team, user=nina, role=Role.MEMBER)
    # Addresses are often this long; the pages must wrap them.
    _, token = Invitation.issue(
        team=team,
        email="someone.with.a.rather.long.address@example.com",
        role=Role.MEMBER,
        invited_by=olga,
    )
    pages = {"team": f"/teams/{team.pk}/", "invitation": f"/invitations/{token}/"}
    overflows = []
    for size_name, size in SCREENS.items():
        with open_page(browser, viewport=size) as owner, open_page(browser, viewport=size) as guest:
            log_in(owner, portal_server, "olga")
            for name, path in pages.items():
                shown = owner if name == "team" else guest
                shown.goto(f"{portal_server}{path}")
                if name == "team":
                    expect(shown.get_by_test_id("member")).to_have_count(2)
                    expect(shown.get_by_test_id("invitation")).to_have_count(1)
                    expect(shown.get_by_test_id("invite-form")).to_be_visible()
                else:
                    expect(shown.get_by_test_id("invitation-signup")).to_be_visible()
                screenshot(shown, tmp_path, f"{name}-{size_name}")
                try:
                    fits_sideways(shown)
                except AssertionError as error:
                    overflows.append((name, size_name, error))
    # Every page shot before the verdict, for a look at all of them.
    assert not overflows, overflows
