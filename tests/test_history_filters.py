"""GET /api/recordings/ filtered, searched, ordered and paged in the database, in a constant
number of queries."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import JobFactory, RecordingFactory, SucceededJobFactory
from transcription.models import JobStatus

pytestmark = pytest.mark.django_db


def names(api, **query) -> list[str]:
    response = api.get("/api/recordings/", query)
    assert response.status_code == 200, response.content
    return [recording["name"] for recording in response.json()["results"]]


def test_the_search_finds_names_and_the_latest_transcript_but_not_others(alice, alice_api, bob):
    SucceededJobFactory(recording__owner=alice, recording__name="budget-review.wav")
    SucceededJobFactory(
        recording__owner=alice, recording__name="standup.wav", segments=["We cut the BUDGET."]
    )
    retried = SucceededJobFactory(
        recording__owner=alice, recording__name="old.wav", segments=["budget"]
    )
    SucceededJobFactory(recording=retried.recording, segments=["nothing of money"])
    SucceededJobFactory(recording__owner=bob, recording__name="bob-budget.wav")

    assert sorted(names(alice_api, q="budget")) == ["budget-review.wav", "standup.wav"]
    assert names(alice_api, q="nowhere said") == []


def test_the_search_finds_chinese_in_either_script(alice, alice_api):
    SucceededJobFactory(
        recording__owner=alice, recording__name="a.wav", segments=["會議記錄已經發出"]
    )

    assert names(alice_api, q="会议") == ["a.wav"]


def test_filters_on_the_latest_job_dates_and_duration(alice, alice_api):
    now = timezone.now()
    old = SucceededJobFactory(
        recording__owner=alice, recording__name="old.wav", recording__duration_s=30,
        recording__created_at=now - timedelta(days=40), model="sensevoice-small", language="zh",
    )  # fmt: skip
    JobFactory(recording__owner=alice, recording__name="waiting.wav", recording__duration_s=600)
    failed = SucceededJobFactory(recording__owner=alice, recording__name="retried.wav")
    JobFactory(recording=failed.recording, status=JobStatus.FAILED, language="auto")

    assert names(alice_api, status="queued") == ["waiting.wav"]
    assert names(alice_api, status="failed") == ["retried.wav"]
    assert names(alice_api, model="sensevoice-small") == ["old.wav"]
    assert names(alice_api, language="zh") == ["old.wav"]
    day = (now - timedelta(days=40)).date().isoformat()
    assert names(alice_api, date_from=day, date_to=day) == ["old.wav"]
    assert "old.wav" not in names(alice_api, date_from=(now - timedelta(days=1)).date())
    assert names(alice_api, duration_min=100) == ["waiting.wav"]
    assert names(alice_api, duration_min=20, duration_max=40) == ["old.wav"]
    assert names(alice_api, status="succeeded", duration_min=20) == [old.recording.name]


def test_ordering_and_pages(alice, alice_api):
    for name, seconds in [("b.wav", 3), ("a.wav", 1), ("c.wav", 2)]:
        RecordingFactory(owner=alice, name=name, duration_s=seconds)

    assert names(alice_api) == ["c.wav", "a.wav", "b.wav"]  # newest first
    assert names(alice_api, ordering="name") == ["a.wav", "b.wav", "c.wav"]
    assert names(alice_api, ordering="-name") == ["c.wav", "b.wav", "a.wav"]
    assert names(alice_api, ordering="duration_s") == ["a.wav", "c.wav", "b.wav"]
    assert names(alice_api, ordering="-duration_s") == ["b.wav", "c.wav", "a.wav"]
    assert names(alice_api, ordering="created_at") == ["b.wav", "a.wav", "c.wav"]
    assert alice_api.get("/api/recordings/", {"page": 2}).status_code == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"status": "sleeping"}, "status"),
        ({"ordering": "owner"}, "ordering"),
        ({"date_from": "yesterday"}, "date_from"),
        ({"date_from": "2026-02-01", "date_to": "2026-01-01"}, "date_to"),
        ({"duration_min": "long"}, "duration_min"),
        ({"duration_min": "-1"}, "duration_min"),
        ({"duration_min": "60", "duration_max": "10"}, "duration_max"),
        ({"q": "x" * 201}, "q"),
    ],
)
def test_an_unusable_filter_is_a_400_that_names_it(alice_api, query, field):
    response = alice_api.get("/api/recordings/", query)

    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize("query", [{}, {"q": "budget", "status": "succeeded", "ordering": "name"}])
def test_a_page_costs_the_same_queries_for_2_and_30_recordings(alice, alice_api, query):
    def queries_for_page() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert alice_api.get("/api/recordings/", query).status_code == 200
        return len(captured)

    def add(count: int) -> None:
        for _ in range(count):
            SucceededJobFactory(recording__owner=alice, segments=["the budget"])
            JobFactory(recording__owner=alice)  # queued: its queue place is read too

    add(1)
    few = queries_for_page()
    add(14)
    assert queries_for_page() == few
