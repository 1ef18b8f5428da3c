"""The distribution's Nginx with the deployment's own configuration (deploy/nginx/), rendered as
the official nginx image renders it, in front of a test's web process."""

import os
import pwd
import re
import string
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from django.conf import settings

from tests.conftest import REPO, free_port, wait_until_listening

NGINX = "/usr/sbin/nginx"
PASSWORD = "pw-for-tests"  # tests.factories.UserFactory's
DEPLOY = REPO / "deploy" / "nginx"

# The image's /etc/nginx/nginx.conf, with every path in the test's own folder and the workers
# running as the test's user (nginx ignores `user` unless started as root), so that they can read
# pytest's private temporary folders.
MAIN_CONF = """\
daemon off;
user {user};
worker_processes auto;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {root}/access.log;
    sendfile on;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    include conf.d/*.conf;
}}
"""


@dataclass(frozen=True)
class Nginx:
    url: str  # plain HTTP
    https_url: str | None  # when started with a certificate
    root: Path  # configuration, logs and temporary files


def render(conf_dir: Path, variables: dict[str, str], *, tls: bool) -> None:
    """Render the deployment's templates into conf_dir/conf.d/ as the image's entrypoint does
    (envsubst on /etc/nginx/templates/**/*.template, only the variables it is given), with the
    TLS server when asked."""
    templates = {
        path: path.relative_to(DEPLOY / "templates")
        for path in (DEPLOY / "templates").rglob("*.template")
    }
    if tls:
        templates[DEPLOY / "tls.conf.template"] = Path("voxa-tls.conf.template")
    for source, relative in templates.items():
        text = string.Template(source.read_text()).safe_substitute(variables)
        # Nginx's own variables are lower case.
        missing = [name for name in string.Template(text).get_identifiers() if name.isupper()]
        assert not missing, f"{source.name} needs {missing}"
        target = conf_dir / "conf.d" / relative.with_suffix("")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def self_signed_certificate(certs_dir: Path) -> Path:
    """fullchain.pem and privkey.pem for 127.0.0.1, as the TLS server reads them."""
    certs_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", certs_dir / "privkey.pem", "-out", certs_dir / "fullchain.pem"],
        check=True, capture_output=True,
    )  # fmt: skip
    return certs_dir / "fullchain.pem"


def configure(
    root: Path, *, upstream: str, body_cap_mb: int, certs_dir: Path | None = None
) -> tuple[int, int | None]:
    """Write the whole configuration under root for Nginx in front of `upstream` (host:port);
    with certs_dir, the TLS server too, and plain HTTP redirects to it. Returns the HTTP and the
    HTTPS port."""
    http_port = free_port()
    variables = {
        "VOXA_UPSTREAM": upstream,
        "VOXA_HTTP_PORT": str(http_port),
        "VOXA_HTTPS_REDIRECT": "",
        "VOXA_STATIC_ROOT": str(settings.STATIC_ROOT),
        "VOXA_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "VOXA_BODY_TEMP_DIR": str(root / "body"),
        "REQUEST_MAX_BODY_MB": str(body_cap_mb),
    }
    https_port = None
    if certs_dir:
        https_port = free_port()
        variables.update(
            VOXA_HTTPS_PORT=str(https_port),
            VOXA_HTTPS_REDIRECT=f"https://127.0.0.1:{https_port}",
            VOXA_CERTS_DIR=str(certs_dir),
        )
    render(root, variables, tls=certs_dir is not None)
    user = pwd.getpwuid(os.geteuid()).pw_name
    (root / "nginx.conf").write_text(MAIN_CONF.format(root=root, user=user))
    return http_port, https_port


def command(root: Path, *extra: str) -> list[str]:
    return [NGINX, "-p", f"{root}/", "-c", str(root / "nginx.conf"), "-e", str(root / "error.log"),
            *extra]  # fmt: skip


@contextmanager
def running_nginx(
    root: Path, *, upstream: str, body_cap_mb: int, certs_dir: Path | None = None
) -> Iterator[Nginx]:
    """Nginx in the foreground with the deployment's configuration (see configure)."""
    http_port, https_port = configure(
        root, upstream=upstream, body_cap_mb=body_cap_mb, certs_dir=certs_dir
    )
    log = root / "error.log"
    process = subprocess.Popen(command(root), stdout=log.open("a"), stderr=subprocess.STDOUT)
    try:
        wait_until_listening(https_port or http_port, process, log)
        yield Nginx(
            url=f"http://127.0.0.1:{http_port}",
            https_url=f"https://127.0.0.1:{https_port}" if https_port else None,
            root=root,
        )
    finally:
        process.terminate()
        process.wait(timeout=10)


def log_in(base_url: str, username: str, password: str = PASSWORD) -> requests.Session:
    """Log in with the login form, sending the Origin and Referer a browser sends."""
    session = requests.Session()
    login_url = f"{base_url}/accounts/login/"
    form = session.get(login_url)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)[1]
    answer = session.post(
        login_url,
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Origin": base_url, "Referer": login_url},
        allow_redirects=False,
    )
    assert answer.status_code == 302, (answer.status_code, answer.text[:500])
    session.headers.update(
        {"X-CSRFToken": session.cookies["csrftoken"], "Origin": base_url, "Referer": login_url}
    )
    return session
