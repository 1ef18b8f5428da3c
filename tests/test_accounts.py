"""Accounts: login lockout (django-axes) on the page and the token endpoint, the API's rate
limits, expiring tokens revoked at logout, and password reset only where e-mail works."""

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests"


@pytest.fixture(autouse=True)
def low_failure_limit(settings) -> None:
    # Each attempt checks a password hash (a third of a second): three make the tests short.
    settings.AXES_FAILURE_LIMIT = 3


@pytest.fixture
def low_rates(monkeypatch) -> None:
    # DRF reads the rates once, into the throttle class: small ones have to be set there.
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "token": "3/hour", "user": "3/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)


def log_in(client, password: str, username: str = "alice", **headers):
    return client.post(reverse("login"), {"username": username, "password": password}, **headers)


def fail_until_locked(client, **headers) -> None:
    """Wrong passwords up to the limit: each but the last is an ordinary failure."""
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, "wrong", **headers).status_code == 200
    response = log_in(client, "wrong", **headers)
    assert response.status_code == 429


def test_login_page_locks_the_username_for_that_address_after_repeated_failures(client, alice):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = log_in(client, "wrong")
        assert b'data-testid="login-error"' in response.content

    response = log_in(client, "wrong")

    assert response.status_code == 429
    assert int(response["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    content = response.content.decode()
    assert 'data-testid="login-locked"' in content
    assert "Too many failed logins for this username from your address" in content
    assert 'name="username"' in content  # still the login page, not a bare error
    # Even the right password is refused while locked.
    assert log_in(client, PASSWORD).status_code == 429
    assert client.get(reverse("upload")).status_code == 302
    # Another address, or another username from this one, is not locked.
    assert log_in(client, PASSWORD, REMOTE_ADDR="198.51.100.9").status_code == 302


def test_other_usernames_from_a_locked_address_can_still_log_in(client, alice, bob):
    fail_until_locked(client)
    assert log_in(client, PASSWORD, username="bob").status_code == 302


def test_lockout_ends_after_the_cooloff(client, alice, settings):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=1)
    fail_until_locked(client)
    assert log_in(client, PASSWORD).status_code == 429

    time.sleep(1.1)

    response = log_in(client, PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("upload")


def test_a_spoofed_x_forwarded_for_neither_resets_nor_dodges_the_lockout(client, alice):
    # No proxy trusted (the default): the header is the client's own word and does not count.
    for attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "wrong", HTTP_X_FORWARDED_FOR=f"203.0.113.{attempt}")
    assert log_in(client, "wrong", HTTP_X_FORWARDED_FOR="203.0.113.200").status_code == 429
    assert log_in(client, PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.1").status_code == 429


def test_behind_nginx_only_the_address_it_appended_counts(client, alice, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    # Nginx's own entry comes last; whatever the client sent before it is ignored.
    for attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "wrong", HTTP_X_FORWARDED_FOR=f"10.9.9.{attempt}, 203.0.113.7")
    assert log_in(client, "wrong", HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 429
    # Another client behind the same proxy is not locked.
    assert log_in(client, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 302


def test_token_endpoint_locks_out_with_a_json_429(alice):
    api = APIClient()
    wrong = {"username": "alice", "password": "wrong"}
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = api.post("/api/token/", wrong, format="json")
        assert response.status_code == 400
        assert "Unable to log in" in str(response.json())

    response = api.post("/api/token/", wrong, format="json")

    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"].startswith("Too many failed logins for this username")
    assert int(response["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    right = {"username": "alice", "password": PASSWORD}
    assert api.post("/api/token/", right, format="json").status_code == 429
    assert not Token.objects.filter(user=alice).exists()


def test_token_endpoint_is_throttled_per_address_with_retry_after(alice, low_rates):
    api = APIClient()
    credentials = {"username": "alice", "password": PASSWORD}
    for _ in range(3):
        assert api.post("/api/token/", credentials).status_code == 200

    response = api.post("/api/token/", credentials)

    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    assert "throttled" in response.json()["detail"]
    # Another address still gets its token.
    assert api.post("/api/token/", credentials, REMOTE_ADDR="198.51.100.9").status_code == 200


def test_signed_in_api_users_are_throttled_with_retry_after(alice_api, low_rates):
    for _ in range(3):
        assert alice_api.get("/api/options/").status_code == 200

    response = alice_api.get("/api/options/")

    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60


def test_an_expired_token_answers_401_and_obtaining_replaces_it(alice):
    api = APIClient()
    credentials = {"username": "alice", "password": PASSWORD}
    old = api.post("/api/token/", credentials).json()["token"]
    # A valid token is handed out again, not rotated under other scripts using it.
    assert api.post("/api/token/", credentials).json()["token"] == old
    Token.objects.filter(key=old).update(
        created=timezone.now() - settings.TOKEN_TTL - timedelta(minutes=1)
    )

    response = api.get("/api/jobs/", HTTP_AUTHORIZATION=f"Token {old}")
    assert response.status_code == 401
    assert response.json()["detail"] == "Token expired. POST /api/token/ gives a new one."

    new = api.post("/api/token/", credentials).json()["token"]
    assert new != old
    assert api.get("/api/jobs/", HTTP_AUTHORIZATION=f"Token {new}").status_code == 200
    assert api.get("/api/jobs/", HTTP_AUTHORIZATION=f"Token {old}").status_code == 401


def test_logging_out_revokes_the_users_token(client, alice):
    token = APIClient().post("/api/token/", {"username": "alice", "password": PASSWORD})
    key = token.json()["token"]
    assert log_in(client, PASSWORD).status_code == 302

    client.post(reverse("logout"))

    assert not Token.objects.filter(user=alice).exists()
    response = APIClient().get("/api/jobs/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401


RESET_URLS = [
    reverse("password_reset"),
    reverse("password_reset_done"),
    reverse("password_reset_confirm", args=["MQ", "set-password"]),
    reverse("password_reset_complete"),
]


def test_password_reset_answers_404_and_is_not_offered_without_email(client):
    assert settings.PASSWORD_RESET_ENABLED is False  # no EMAIL_URL in the test environment
    for url in RESET_URLS:
        assert client.get(url).status_code == 404, url
    assert b"password-reset" not in client.get(reverse("login")).content


def test_password_reset_is_offered_and_mails_a_link_where_email_is_configured(
    client, alice, settings
):
    settings.PASSWORD_RESET_ENABLED = True
    alice.email = "alice@example.com"
    alice.save()

    login_page = client.get(reverse("login")).content.decode()
    assert f'href="{reverse("password_reset")}"' in login_page
    response = client.post(reverse("password_reset"), {"email": "alice@example.com"})

    assert response.status_code == 302
    assert client.get(reverse("password_reset_done")).status_code == 200
    [message] = mail.outbox
    assert "/accounts/reset/" in message.body
