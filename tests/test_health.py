"""The probes the container healthchecks call: /healthz (the process answers) and /readyz
(database, Redis and a worker answer), both JSON and outside login."""

import json
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import redis

from tests.conftest import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def private_redis(tmp_path) -> Iterator[tuple[str, subprocess.Popen]]:
    """A Redis of this test's own, with no worker listening: the shared one is never touched."""
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "private redis-server did not start"
            time.sleep(0.05)
    yield url, process
    process.kill()
    process.wait()


def test_healthz_answers_anonymously_and_touches_nothing(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def readyz_in_a_process(env: dict[str, str]) -> tuple[int, dict]:
    """/readyz as a portal process with this environment answers it (its broker is its own)."""
    code = (
        "import django, json; django.setup(); from django.test import Client; "
        "r = Client().get('/readyz'); print(json.dumps([r.status_code, r.json()]))"
    )
    env = {**env, "DJANGO_SETTINGS_MODULE": "portal.settings", "ALLOWED_HOSTS": "testserver"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-3000:]
    status, body = json.loads(result.stdout.splitlines()[-1])
    return status, body


def test_readyz_names_a_missing_worker_then_a_missing_redis(process_env, private_redis):
    url, process = private_redis
    env = {**process_env, "REDIS_URL": url}

    status, body = readyz_in_a_process(env)

    assert status == 503
    assert body["failing"] == ["worker"]
    assert body["checks"]["database"] == body["checks"]["redis"] == "ok"
    assert body["checks"]["worker"] == "no worker answered a ping within 1 s"

    process.kill()
    process.wait()
    status, body = readyz_in_a_process(env)
    assert status == 503
    assert body["failing"] == ["redis", "worker"]
    assert body["checks"]["redis"].startswith("unreachable")
    assert body["checks"]["worker"].startswith("broker unreachable")


@pytest.mark.slow
def test_readyz_is_200_when_database_redis_and_a_worker_answer(client, celery_worker):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "status": "ok",
        "failing": [],
        "checks": {"database": "ok", "redis": "ok", "worker": "ok"},
    }
