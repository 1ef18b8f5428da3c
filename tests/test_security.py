"""Deployment hardening: the README's https deployment passes `check --deploy` with no warning,
the local run on plain http still logs in, a weak SECRET_KEY stops the process, and every page
carries a Content Security Policy without inline script or style."""

import json
import os
import subprocess
import sys

import pytest
from django.urls import reverse

from tests.conftest import REPO

pytestmark = pytest.mark.django_db

# As the README's deployment section sets them, behind the bundled Nginx.
DEPLOYMENT_ENV = {
    "DEBUG": "false",
    "PUBLIC_URL": "https://voxa.example.com",
    "TRUSTED_PROXIES": "1",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_deployment_settings_give_no_warning_from_check_deploy():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **DEPLOYMENT_ENV)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_deployment_settings_trust_nginx_and_the_public_address():
    code = (
        "import json; from django.conf import settings as s; print(json.dumps([s.ALLOWED_HOSTS, "
        "s.CSRF_TRUSTED_ORIGINS, s.SECURE_PROXY_SSL_HEADER, s.REST_FRAMEWORK['NUM_PROXIES'], "
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT]))"
    )
    result = manage("shell", "-c", code, **DEPLOYMENT_ENV)
    assert result.returncode == 0, result.stderr
    hosts, origins, proxy_header, proxies, *secure = json.loads(result.stdout.splitlines()[-1])
    assert "voxa.example.com" in hosts
    assert "https://voxa.example.com" in origins
    assert proxy_header == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert proxies == 1
    assert secure == [True, True, True]


def test_local_http_settings_are_what_check_deploy_warns_about():
    # The same check sees the local defaults (plain http): it can fail.
    result = manage("check", "--deploy", "--fail-level", "WARNING", DEBUG="false")
    assert result.returncode != 0
    for check in ("W004", "W008", "W012", "W016"):
        assert f"security.{check}" in result.stderr


@pytest.mark.parametrize("secret_key", ["", "change-me", "x" * 60, "short-" * 8])
def test_an_unset_placeholder_or_weak_secret_key_stops_the_process(secret_key):
    result = manage("check", SECRET_KEY=secret_key)
    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is unset" in result.stderr


def test_local_http_login_works_with_cookies_not_marked_secure(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "pw-for-tests"})

    assert response.status_code == 302
    assert response.cookies["sessionid"]["secure"] == ""
    assert client.get(reverse("upload")).status_code == 200


def test_https_deployment_redirects_plain_http_but_not_the_probes(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

    response = client.get(reverse("login"))
    assert response.status_code == 301
    assert response["Location"].startswith("https://")
    assert client.get(reverse("login"), HTTP_X_FORWARDED_PROTO="https").status_code == 200
    # The container healthchecks call the web process directly, over http.
    assert client.get("/healthz").status_code == 200


def test_pages_carry_a_strict_content_security_policy_and_security_headers(client, alice):
    client.force_login(alice)
    for url in (reverse("login"), reverse("upload"), "/api/options/"):
        response = client.get(url)
        policy = response["Content-Security-Policy"]
        assert "default-src 'self'" in policy, url
        assert "frame-ancestors 'none'" in policy
        assert "object-src 'none'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["Cross-Origin-Opener-Policy"] == "same-origin"
