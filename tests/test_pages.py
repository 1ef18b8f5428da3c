"""The pages: login required, own data only, and no inline script (a strict CSP can follow)."""

import re

import pytest
from django.urls import reverse

from tests.factories import JobFactory, RecordingFactory, SucceededJobFactory

pytestmark = pytest.mark.django_db


def page_urls(recording_id: int) -> list[str]:
    return [
        reverse("upload"),
        reverse("history"),
        reverse("hotwords"),
        reverse("search"),
        reverse("recording", args=[recording_id]),
    ]


def test_anonymous_is_redirected_to_login_from_every_page(client, alice):
    recording = RecordingFactory(owner=alice)
    for url in page_urls(recording.pk):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == f"{reverse('login')}?next={url}"


def test_public_routes_answer_anonymously_without_a_redirect(client):
    assert client.get(reverse("login")).status_code == 200
    assert client.get(reverse("healthz")).json() == {"status": "ok"}
    assert client.get(reverse("readyz")).status_code in (200, 503)  # JSON either way
    # Password reset exists only with e-mail, which the tests do not configure.
    assert client.get(reverse("password_reset")).status_code == 404


def test_login_page_renders_and_logs_in(client, alice):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b'name="username"' in response.content

    response = client.post(reverse("login"), {"username": "alice", "password": "pw-for-tests"})
    assert response.status_code == 302
    assert response["Location"] == reverse("upload")


def test_wrong_password_shows_an_error(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert b'data-testid="login-error"' in response.content


def test_logged_in_user_sees_the_upload_page(client, alice):
    client.force_login(alice)
    response = client.get(reverse("upload"))
    assert response.status_code == 200
    content = response.content.decode()
    assert 'id="drop-zone"' in content
    assert 'id="file-input"' in content
    assert "js/upload.js" in content
    # The nav bar: both pages, the user's name and a POST logout form.
    assert 'data-testid="nav-username">alice<' in content
    assert re.search(r'<form method="post" action="/accounts/logout/">', content)
    assert "csrftoken" in response.cookies


def test_logged_in_user_sees_the_history_page(client, alice):
    client.force_login(alice)
    response = client.get(reverse("history"))
    assert response.status_code == 200
    assert b'id="recordings-table"' in response.content
    assert b"js/history.js" in response.content


def test_owner_sees_their_recording_page(client, alice):
    job = SucceededJobFactory(recording__owner=alice, recording__name="standup <b>.wav")
    client.force_login(alice)
    response = client.get(reverse("recording", args=[job.recording.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    # User data is escaped, never markup.
    assert "standup &lt;b&gt;.wav" in content
    assert "standup <b>" not in content
    assert f'data-job-id="{job.pk}"' in content
    assert f'src="/api/recordings/{job.recording.pk}/audio/"' in content
    for fmt in ("txt", "csv", "srt", "vtt", "json", "docx"):
        assert f'href="/api/jobs/{job.pk}/export/?format={fmt}"' in content
    # The owner may correct the transcript: the page's script offers the editing controls.
    assert 'data-may-edit="true"' in content


def test_recording_page_names_the_latest_job(client, alice):
    recording = RecordingFactory(owner=alice)
    JobFactory(recording=recording)
    latest = JobFactory(recording=recording)
    client.force_login(alice)
    response = client.get(reverse("recording", args=[recording.pk]))
    assert f'data-job-id="{latest.pk}"' in response.content.decode()


def test_other_user_gets_404_on_recording_page(client, alice, bob):
    job = JobFactory(recording__owner=alice)
    client.force_login(bob)
    response = client.get(reverse("recording", args=[job.recording.pk]))
    assert response.status_code == 404


def test_missing_recording_is_404(client, alice):
    client.force_login(alice)
    assert client.get(reverse("recording", args=[999_999])).status_code == 404


def test_pages_have_no_inline_script_or_event_handlers(client, alice):
    job = SucceededJobFactory(recording__owner=alice)
    client.force_login(alice)
    for url in [*page_urls(job.recording.pk), reverse("login")]:
        content = client.get(url).content.decode()
        for script in re.findall(r"<script\b[^>]*>(.*?)</script>", content, flags=re.S):
            assert script.strip() == ""
        assert not re.search(r"\son[a-z]+\s*=", content)
        assert not re.search(r"\sstyle\s*=", content)


def test_logout_is_a_post_that_returns_to_login(client, alice):
    client.force_login(alice)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert client.get(reverse("upload")).status_code == 302


def test_hotword_lists_are_saved_switched_and_deleted_from_their_page(client, alice):
    client.force_login(alice)

    response = client.post(
        reverse("hotwords"), {"name": "team", "words": "达摩院\n FunASR \n", "active": "on"}
    )
    assert response.status_code == 302
    saved = alice.hotword_lists.get()
    assert (saved.words, saved.active) == ("达摩院\nFunASR", True)
    assert "达摩院, FunASR" in client.get(reverse("hotwords")).content.decode()

    client.post(reverse("hotword-list-toggle", args=[saved.pk]))
    saved.refresh_from_db()
    assert saved.active is False
    client.post(reverse("hotword-list-delete", args=[saved.pk]))
    assert not alice.hotword_lists.exists()


def test_hotword_form_refuses_a_url(client, alice):
    client.force_login(alice)

    response = client.post(reverse("hotwords"), {"name": "bad", "words": "https://x.test/a"})

    assert response.status_code == 200
    assert "Not a hotword" in response.content.decode()
    assert not alice.hotword_lists.exists()


def test_another_users_hotword_list_cannot_be_changed(client, alice, bob):
    saved = alice.hotword_lists.create(name="secret", words="Kenobi")
    client.force_login(bob)

    assert client.post(reverse("hotword-list-toggle", args=[saved.pk])).status_code == 404
    assert client.post(reverse("hotword-list-delete", args=[saved.pk])).status_code == 404
    assert alice.hotword_lists.filter(active=True).exists()


def test_recording_page_says_when_the_model_ignores_the_hotwords(client, alice, settings):
    job = JobFactory(recording__owner=alice, model="sensevoice-small", hotwords="达摩院")
    client.force_login(alice)

    response = client.get(reverse("recording", args=[job.recording_id]))

    assert "does not use hotwords" in response.content.decode()
