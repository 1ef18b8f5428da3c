"""The distribution's Nginx with the deployment's configuration (deploy/nginx/) in front of the
web process: everything a user does goes through it, on a port that is not 80."""

import http.client
import json
import string
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import srt
import yaml
from django.conf import settings
from rest_framework.authtoken.models import Token
from websockets.sync.client import connect

from tests.audio_files import long_wav, speech
from tests.conftest import REPO, TINY_MODEL, serve_portal
from tests.factories import UserFactory
from tests.nginx import DEPLOY, Nginx, log_in, running_nginx, self_signed_certificate
from transcription.models import Recording

# The web's own cap on a request body (REQUEST_MAX_BODY_MB): Nginx caps at the same size.
BODY_CAP_MB = 32
JOB_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def accel_portal(process_env, tmp_path_factory) -> Iterator[str]:
    """The web process as deployed behind Nginx: stored audio is handed to Nginx to send."""
    env = {**process_env, "MEDIA_ACCEL_REDIRECT": "true"}
    with serve_portal(env, tmp_path_factory.mktemp("accel-portal") / "web.log") as url:
        yield url


@pytest.fixture(scope="module")
def front(accel_portal, tmp_path_factory) -> Iterator[Nginx]:
    root = tmp_path_factory.mktemp("nginx")
    upstream = urlsplit(accel_portal).netloc
    with running_nginx(root, upstream=upstream, body_cap_mb=BODY_CAP_MB) as nginx:
        yield nginx


def upload(session: requests.Session, base_url: str, path: Path, **fields: str) -> dict:
    """One file uploaded through Nginx as the upload page sends it: announced, sent in chunks
    (each one request under the body cap), then finished; its job."""
    size = path.stat().st_size
    announced = session.post(f"{base_url}/api/uploads/", json={"name": path.name, "size": size})
    assert announced.status_code == 201, announced.text
    upload_id, chunk_bytes = announced.json()["id"], announced.json()["chunk_bytes"]
    with path.open("rb") as source:
        for offset in range(0, size, chunk_bytes):
            sent = session.patch(
                f"{base_url}/api/uploads/{upload_id}/",
                data=source.read(chunk_bytes),
                headers={"Upload-Offset": str(offset), "Content-Type": "application/octet-stream"},
            )
            assert sent.status_code == 200, sent.text
    finished = session.post(f"{base_url}/api/recordings/", json={"uploads": [upload_id], **fields})
    assert finished.status_code == 201, finished.text
    [job] = finished.json()["jobs"]
    return job


def websocket_url(session: requests.Session, base_url: str) -> tuple[str, dict[str, str]]:
    cookies = "; ".join(f"{cookie.name}={cookie.value}" for cookie in session.cookies)
    return base_url.replace("http", "ws", 1) + "/ws/jobs/", {"Cookie": cookies}


def answer_to_announced_body(base_url: str, length: int) -> tuple[int, str]:
    """Announce an upload of `length` bytes and ask leave to send it (Expect: 100-continue): the
    answer comes from the headers alone."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.putrequest("POST", "/api/recordings/")
        connection.putheader("Content-Length", str(length))
        connection.putheader("Expect", "100-continue")
        connection.endheaders()
        answer = connection.getresponse()
        return answer.status, answer.read().decode()
    finally:
        connection.close()


def a_static_file() -> Path:
    return next(Path(settings.STATIC_ROOT).rglob("*.css"))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_user_works_through_nginx_on_any_port(front, celery_worker, tmp_path):
    alice, bob = UserFactory(username="nina"), UserFactory(username="oscar")
    session = log_in(front.url, alice.username)
    url, headers = websocket_url(session, front.url)
    # 200 MB (17 minutes of 48 kHz stereo): chunks past Nginx's 1 MB body buffer.
    clip = long_wav(tmp_path / "meeting.wav", 200 * 1024 * 1024, speech("en_two_cities_44s.wav"))

    with connect(url, additional_headers=headers, origin=front.url) as socket:
        job = upload(session, front.url, clip, model=TINY_MODEL)
        events = []
        while not events or events[-1]["status"] in ("queued", "running"):
            event = json.loads(socket.recv(timeout=JOB_TIMEOUT_S))
            if event["job"] == job["id"]:
                events.append(event)

    assert events[-1]["status"] == "succeeded", events[-1]
    log = (front.root / "error.log").read_text()
    assert f"a client request body is buffered to a temporary file {front.root}/body/" in log
    assert any(event["status"] == "running" for event in events)
    export = session.get(f"{front.url}/api/jobs/{job['id']}/export/?format=srt")
    assert export.status_code == 200
    assert list(srt.parse(export.text))
    assert export.headers["Content-Disposition"].startswith("attachment")

    stored = Recording.objects.get(pk=job["recording"]["id"]).file
    audio_url = f"{front.url}/api/recordings/{stored.instance.pk}/audio/"
    whole = session.get(audio_url)
    part = session.get(audio_url, headers={"Range": "bytes=4-7"})
    assert whole.status_code == 200
    assert whole.content == Path(stored.path).read_bytes()
    assert part.status_code == 206
    assert part.content == whole.content[4:8]
    assert part.headers["Content-Range"] == f"bytes 4-7/{len(whole.content)}"
    assert part.headers["Content-Type"] == "audio/wav"
    assert part.headers["Content-Disposition"] == f'inline; filename="{clip.name}"'
    # Sent by Nginx (the web's answer has no ETag), with Nginx's own security headers.
    assert "ETag" in part.headers
    assert part.headers["X-Content-Type-Options"] == "nosniff"

    token = Token.objects.create(user=bob).key
    assert requests.get(audio_url, headers={"Authorization": f"Token {token}"}).status_code == 404
    assert requests.get(audio_url).status_code in (401, 403)
    for guessed in (f"/protected-media/{stored.name}", f"/media/{stored.name}"):
        assert session.get(front.url + guessed).status_code == 404, guessed


@pytest.mark.slow
def test_nginx_serves_static_files_and_refuses_bodies_over_the_cap(front):
    static = a_static_file()
    answer = requests.get(f"{front.url}/static/{static.relative_to(settings.STATIC_ROOT)}")
    status, page = answer_to_announced_body(front.url, BODY_CAP_MB * 1024 * 1024 + 1)

    assert answer.status_code == 200
    assert answer.content == static.read_bytes()
    assert answer.headers["Cache-Control"] == "max-age=3600"  # Nginx's; WhiteNoise says 60
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in answer.headers  # plain HTTP
    assert status == 413
    assert "nginx" in page
    assert "client intended to send too large body" in (front.root / "error.log").read_text()


def test_tls_server_reads_its_certificate_and_plain_http_redirects_to_it(tmp_path):
    certificate = self_signed_certificate(tmp_path / "certs")
    static = a_static_file().relative_to(settings.STATIC_ROOT)
    # Nothing listens upstream: what is asked of Nginx here it answers alone.
    with running_nginx(
        tmp_path / "nginx", upstream="127.0.0.1:9", body_cap_mb=BODY_CAP_MB,
        certs_dir=certificate.parent,
    ) as nginx:  # fmt: skip
        redirect = requests.get(f"{nginx.url}/accounts/login/?next=/", allow_redirects=False)
        secure = requests.get(f"{nginx.https_url}/static/{static}", verify=certificate)

    assert redirect.status_code == 308
    assert redirect.headers["Location"] == f"{nginx.https_url}/accounts/login/?next=/"
    assert secure.status_code == 200
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_compose_gives_nginx_every_template_and_every_variable_they_use():
    def nginx_service(compose_file: str) -> dict:
        return yaml.safe_load((REPO / compose_file).read_text())["services"]["nginx"]

    plain, tls = nginx_service("docker-compose.yml"), nginx_service("docker-compose.tls.yml")
    templates = {
        f"/etc/nginx/templates/{path.relative_to(DEPLOY / 'templates')}": path
        for path in (DEPLOY / "templates").rglob("*.template")
    }
    mounted = {
        target: REPO / source
        for source, target, *_ in (volume.split(":") for volume in plain["volumes"])
        if target.startswith("/etc/nginx/templates/")
    }
    environment = {**plain["environment"], **tls["environment"]}
    used = {
        name
        for path in [*templates.values(), DEPLOY / "tls.conf.template"]
        for name in string.Template(path.read_text()).get_identifiers()
        if name.isupper()
    }

    assert mounted == templates
    assert (
        "./deploy/nginx/tls.conf.template:/etc/nginx/templates/voxa-tls.conf.template:ro"
        in (tls["volumes"])
    )
    assert used == set(environment)
