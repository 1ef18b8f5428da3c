"""Searching the transcripts: the user's own, each recording's latest job, either Chinese script."""

import pytest

from tests.factories import JobFactory, SucceededJobFactory
from transcription.models import JobStatus

pytestmark = pytest.mark.django_db


def hits(api, query: str) -> list[dict]:
    response = api.get("/api/search/", {"q": query})
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_search_finds_lines_of_the_users_own_transcripts(alice, alice_api, bob):
    job = SucceededJobFactory(recording__owner=alice, recording__name="standup.wav")
    SucceededJobFactory(recording__owner=bob, segments=["Kenobi, from bob's meeting."])

    found = hits(alice_api, "KENOBI")

    assert found == [
        {
            "recording": job.recording_id,
            "recording_name": "standup.wav",
            "job": job.pk,
            "index": 1,
            "start": 2.5,
            "end": 4.5,
            "speaker": "",
            "speaker_name": "",
            "text": "General Kenobi.",
        }
    ]
    assert hits(alice_api, "nowhere said") == []


def test_only_each_recordings_latest_job_is_searched(alice, alice_api):
    earlier = SucceededJobFactory(recording__owner=alice, segments=["the old budget"])
    JobFactory(recording=earlier.recording, status=JobStatus.FAILED)
    retried = SucceededJobFactory(recording__owner=alice, segments=["the old budget"])
    latest = SucceededJobFactory(recording=retried.recording, segments=["the new budget"])

    assert [hit["job"] for hit in hits(alice_api, "budget")] == [latest.pk]


def test_chinese_is_found_in_either_script(alice, alice_api):
    simplified = SucceededJobFactory(recording__owner=alice, segments=["今天的会议讨论预算"])
    traditional = SucceededJobFactory(recording__owner=alice, segments=["會議記錄已經發出"])

    found = {hit["job"] for hit in hits(alice_api, "會議")}

    assert found == {simplified.pk, traditional.pk}
    assert {hit["job"] for hit in hits(alice_api, "会议")} == found


@pytest.mark.parametrize("query", ["", "   ", "x" * 201])
def test_an_empty_or_overlong_query_is_refused_with_a_reason(alice_api, query):
    response = alice_api.get("/api/search/", {"q": query})

    assert response.status_code == 400
    assert list(response.json()) == ["q"]


def test_the_search_page_marks_matches_and_links_to_the_moment(alice, client):
    job = SucceededJobFactory(
        recording__owner=alice, segments=["intro", "Use <b>bold</b> budget words"]
    )
    client.force_login(alice)

    page = client.get("/search/", {"q": "BUDGET"}).content.decode()

    assert "Use &lt;b&gt;bold&lt;/b&gt; <mark>budget</mark> words" in page
    assert f'href="/recordings/{job.recording_id}/?t=2.50"' in page
    assert "1 line contains" in page
    assert "<mark>" not in client.get("/search/", {"q": "absent"}).content.decode()
