"""The upload page shows a quota refusal in plain words, in a real browser: the storage refusal
of the announce, and the monthly hours refusal once the file is up."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from accounts.models import Role
from tests.audio_files import speech
from tests.conftest import BROWSER_CHUNK_MB, BROWSER_PASSWORD, log_in, serve_portal, switch_to
from tests.factories import MembershipFactory, TeamFactory
from transcription.models import Recording, Upload

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SMALL = speech("en_librispeech_1089-134686-0001.wav")  # 207 KB, 6.6 s
LARGE = speech("en_two_cities_44s.wav")  # 4.1 MB
STORAGE_GB = 1 / 1024  # 1 MB: room for SMALL only
MONTHLY_HOURS = 3 / 3600  # 3 s: not enough for SMALL


@pytest.fixture(scope="module")
def limited_portal(process_env, tmp_path_factory) -> Iterator[str]:
    """The portal whose personal workspaces have the limits above (settings read at start)."""
    env = {
        **process_env,
        "PERSONAL_STORAGE_GB": str(STORAGE_GB),
        "PERSONAL_MONTHLY_AUDIO_HOURS": str(MONTHLY_HOURS),
        "UPLOAD_CHUNK_MB": BROWSER_CHUNK_MB,
    }
    with serve_portal(env, tmp_path_factory.mktemp("web") / "web.log") as url:
        yield url


def test_the_upload_page_says_what_the_quota_leaves(limited_portal, django_user_model, page: Page):
    django_user_model.objects.create_user("quinn", password=BROWSER_PASSWORD)
    log_in(page, limited_portal, "quinn")

    page.set_input_files("#file-input", [LARGE, SMALL])

    rows = page.get_by_test_id("upload-row")
    expect(rows.filter(has_text=LARGE.name).get_by_test_id("rejection")).to_have_text(
        f"{LARGE.name}: This upload needs 4.1\xa0MB of storage but you have 1.0\xa0MB left "
        "(1.0\xa0MB in all)."
    )
    expect(rows.filter(has_text=SMALL.name).get_by_test_id("rejection")).to_have_text(
        f"{SMALL.name}: This upload needs 7 s of audio but you have 3 s left this month "
        "(3 s a month)."
    )
    assert not Recording.objects.exists()
    assert not Upload.objects.exists()


def test_an_upload_into_a_team_is_checked_against_the_teams_storage(
    limited_portal, django_user_model, page: Page
):
    """The page announces the file with the active team: the team's limit applies, not the
    personal one, and its message names the team."""
    rita = django_user_model.objects.create_user("rita", password=BROWSER_PASSWORD)
    team = TeamFactory(name="Archive", storage_gb=3 / 1024)
    MembershipFactory(team=team, user=rita, role=Role.MEMBER)
    log_in(page, limited_portal, "rita")
    switch_to(page, "Team: Archive (member)")

    page.set_input_files("#file-input", [LARGE])

    expect(page.get_by_test_id("rejection")).to_have_text(
        f"{LARGE.name}: This upload needs 4.1\xa0MB of storage but the team has 3.0\xa0MB left "
        "(3.0\xa0MB in all)."
    )
    assert not Recording.objects.exists()
    assert not Upload.objects.exists()
