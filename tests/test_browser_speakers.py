"""The upload page asks for speakers: the box and the number reach the job."""

import re

import pytest
from playwright.sync_api import expect

from tests.audio_files import speech
from tests.conftest import BROWSER_PASSWORD, log_in
from transcription.models import Job

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CLIP = speech("en_librispeech_1995-1837-0001.wav")


def test_the_upload_page_sends_the_speaker_options(portal_server, django_user_model, page):
    django_user_model.objects.create_user("ivy", password=BROWSER_PASSWORD)
    log_in(page, portal_server, "ivy")
    page.goto(f"{portal_server}/")
    number = page.get_by_test_id("num-speakers")

    expect(page.get_by_test_id("speakers")).not_to_be_checked()  # personal workspace: off
    expect(number).to_be_disabled()
    page.get_by_test_id("speakers").check()
    number.fill("3")
    page.set_input_files("#file-input", CLIP)

    row = page.get_by_test_id("upload-row")
    expect(row).to_have_attribute("data-state", re.compile(r"^(queued|running|succeeded)$"))
    job = Job.objects.get(owner__username="ivy")
    assert (job.identify_speakers, job.num_speakers) == (True, 3)
