"""Shared fixtures: standing users, the real processes (Celery worker, uvicorn) for end-to-end
tests, and the browser that drives the pages."""

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.conf import settings
from django.core.management import call_command
from playwright.sync_api import Browser, Page, expect, sync_playwright
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from portal.celery import app as celery_app
from tests.factories import UserFactory
from tests.teams import Crew, team_with_every_role
from transcription import progress
from transcription.models import Job

REPO = Path(__file__).resolve().parent.parent
TINY_MODEL = "tiny-paraformer"
# A preset whose weights are missing: jobs on it must fail with a reason, the worker must go on.
BROKEN_MODEL = "broken-model"
WORKER_START_TIMEOUT_S = 120


@pytest.fixture(scope="session", autouse=True)
def _fresh_broker() -> None:
    # Messages left by an interrupted run would name jobs of a database that no longer exists.
    redis.Redis.from_url(settings.REDIS_URL).flushdb()


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    # The API's rate-limit counters live in the Redis cache: each test starts with none. Only the
    # cache's keys go; cache.clear() would flush the whole database, broker queues included.
    client = redis.Redis.from_url(settings.REDIS_URL)
    if keys := list(client.scan_iter(f"{settings.CACHES['default']['KEY_PREFIX']}:*")):
        client.delete(*keys)


@pytest.fixture
def job_queue(settings) -> Iterator[str]:
    """A job queue of the test's own in the real broker: what the code under test sends (and
    what the janitor reads) goes there, and is gone after the test."""
    queue = f"test-jobs-{uuid.uuid4().hex}"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    yield queue
    with celery_app.connection_for_read() as connection:
        channel = connection.default_channel  # a list per priority band (transcription.queue)
        channel.client.delete(*(channel._q_for_pri(queue, band) for band in channel.priority_steps))


@pytest.fixture
def fast_passwords(settings) -> None:
    """MD5 for users made in the test: the real hasher would take most of a short test's time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def crew(db, fast_passwords) -> Crew:
    """A team with an owner, an admin and a member, and an outsider in a team of their own."""
    return team_with_every_role()


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob")


def api_client_for(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def alice_api(alice) -> APIClient:
    return api_client_for(alice)


@pytest.fixture
def bob_api(bob) -> APIClient:
    return api_client_for(bob)


@pytest.fixture(scope="session")
def tiny_paraformer_dir() -> Path:
    from tests.tiny_models import build_tiny_paraformer

    return build_tiny_paraformer(Path(settings.MODEL_CACHE_DIR) / TINY_MODEL)


# The folders as the settings give them, read before any test overrides them: the session's
# child processes are shared by later tests, so they must not keep one test's own folder (the
# permission matrix's world has its own MEDIA_ROOT, and its /readyz cells start the worker).
SHARED_MEDIA_ROOT = str(settings.MEDIA_ROOT)
SHARED_PARTIAL_UPLOADS_DIR = str(settings.PARTIAL_UPLOADS_DIR)


@pytest.fixture(scope="session")
def process_env(django_db_setup, tiny_paraformer_dir) -> dict[str, str]:
    """Environment for child processes: the test database, the same media and broker."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("end-to-end tests need DATABASE_URL to point at PostgreSQL")
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        MEDIA_ROOT=SHARED_MEDIA_ROOT,
        PARTIAL_UPLOADS_DIR=SHARED_PARTIAL_UPLOADS_DIR,
        MODEL_CACHE_DIR=str(settings.MODEL_CACHE_DIR),
        # paraformer-zh is offered (for the upload page's language choices), never loaded.
        ASR_ENABLED_MODELS=f"whisper-base,{TINY_MODEL},{BROKEN_MODEL},paraformer-zh",
        ASR_MODEL_SOURCES=(
            f"{TINY_MODEL}={tiny_paraformer_dir},{BROKEN_MODEL}={REPO / 'no-such-dir'}"
        ),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def tiny_model_enabled(settings) -> str:
    settings.ASR_ENABLED_MODELS = ["whisper-base", TINY_MODEL, BROKEN_MODEL]
    return TINY_MODEL


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    # A process group of its own: stop_process ends whatever it started too.
    return subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_process(process: subprocess.Popen) -> None:
    """Stop a process from _start, then whatever of its group is left: a web process's workers
    (uvicorn's, which outlive a supervisor that is killed, and serve on), a worker's speech
    detectors."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def start_worker(
    env: dict[str, str], name: str, queue: str, log: Path, *, module: str = "celery"
) -> subprocess.Popen:
    """A real worker process, as production runs it: one process, one model, jobs in threads.
    Returns once it answers a ping. `module`: what runs Celery's command line (a test's own
    wrapper may patch the code first)."""
    command = [
        sys.executable, "-m", module, "-A", "portal", "worker", "--pool=threads",
        f"--concurrency={settings.WORKER_SLOTS}",
        "--loglevel=INFO", "--without-gossip", "--without-mingle", "-n", name,
    ]  # fmt: skip
    process = _start(command, {**env, "CELERY_QUEUE": queue}, log)
    deadline = time.monotonic() + WORKER_START_TIMEOUT_S
    # Asked through its own broker, which may be a test's private one; not the current app, so
    # that the shared tasks the tests send still go through the portal's.
    broker_url = env.get("CELERY_BROKER_URL") or env.get("REDIS_URL") or settings.REDIS_URL
    pinger = Celery(broker=broker_url, set_as_current=False)
    try:
        while not pinger.control.ping(destination=[name], timeout=1):
            if process.poll() is not None or time.monotonic() > deadline:
                stop_process(process)
                raise RuntimeError(f"Celery worker did not start:\n{log.read_text()[-3000:]}")
    finally:
        pinger.close()
    return process


@pytest.fixture(scope="session")
def celery_worker(process_env, tmp_path_factory) -> Iterator[str]:
    name = f"test-worker-{os.getpid()}@localhost"
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    process = start_worker(process_env, name, settings.CELERY_TASK_DEFAULT_QUEUE, log)
    yield name
    stop_process(process)
    print(f"\n--- worker log tail ---\n{log.read_text()[-2000:]}")


def wait_until(condition: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def wait_for_job_end(job: Job, process: subprocess.Popen, timeout_s: float) -> None:
    """Wait until `job` has ended while `process` (a worker, beat) runs, then stop the process;
    `job` is refreshed."""
    try:
        wait_until(lambda: not Job.objects.get(pk=job.pk).is_active, timeout_s)
    finally:
        stop_process(process)
    job.refresh_from_db()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_listening(port: int, process: subprocess.Popen, log: Path) -> None:
    """Return once `process` accepts connections on `port`; fail with its log if it exits or
    takes over 30 s."""
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                command = " ".join(map(str, process.args))
                raise RuntimeError(f"{command} did not start:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.2)


@contextmanager
def running_web(env: dict[str, str], log: Path) -> Iterator[tuple[str, int]]:
    """The web process as production starts it (scripts/web.sh: uvicorn), on a free port:
    yields its base URL and process id once it accepts connections, and stops it after."""
    port = free_port()
    env = {**env, "PYTHON": sys.executable, "WEB_PORT": str(port)}
    process = _start(["scripts/web.sh"], env, log)
    try:
        wait_until_listening(port, process, log)
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        stop_process(process)


@contextmanager
def serve_portal(env: dict[str, str], log: Path) -> Iterator[str]:
    """The portal (pages, API, websockets) with `env`, against the test database; its base URL
    while the block runs."""
    # DEBUG is off: WhiteNoise serves what collectstatic put in STATIC_ROOT when the web starts.
    call_command("collectstatic", "--noinput", verbosity=0)
    with running_web(env, log) as (url, _):
        yield url


# Small enough that a short clip goes up in several chunks through the upload page.
BROWSER_CHUNK_MB = "0.1"


@pytest.fixture(scope="session")
def portal_server(process_env, tmp_path_factory) -> Iterator[str]:
    """The portal on uvicorn, against the test database."""
    log = tmp_path_factory.mktemp("web") / "web.log"
    with serve_portal({**process_env, "UPLOAD_CHUNK_MB": BROWSER_CHUNK_MB}, log) as url:
        yield url


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
# The sizes the pages are looked at, and how long a browser test waits for a job to end.
SCREENS = {"phone": {"width": 375, "height": 740}, "desktop": {"width": 1280, "height": 800}}
JOB_TIMEOUT_MS = 300_000
BROWSER_PASSWORD = "pw-for-browser-tests"


# Module scope: Playwright keeps an event loop in this thread while it runs, which would break
# async_to_sync in the tests that come after this module.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Playwright's sync API keeps an event loop running in this thread, which makes Django
    # refuse ORM calls; the test's own ORM calls are plain synchronous code all the same.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@contextmanager
def open_page(browser: Browser, **context_options: object) -> Iterator[Page]:
    """A page in a browser context of its own (its own cookies: another user may log in)."""
    context = browser.new_context(accept_downloads=True, **context_options)
    page = context.new_page()
    page.set_default_timeout(15_000)
    # The pages run under a strict Content Security Policy: anything it blocks fails the test.
    blocked = []
    page.on(
        "console",
        lambda message: "Content Security Policy" in message.text and blocked.append(message.text),
    )
    yield page
    context.close()
    assert blocked == []


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with open_page(browser) as page:
        yield page


def publish(job) -> None:
    # async_to_sync refuses to run in the thread where Playwright's event loop lives.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(progress.publish, job).result()


def wait_for_page(page: Page, predicate: str, arg: object = None, timeout_s: float = 15) -> None:
    """Polls `predicate` (a JS function) from here: page.wait_for_function polls with eval,
    which the pages' Content Security Policy forbids."""
    wait_until(lambda: page.evaluate(predicate, arg), timeout_s)


def log_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.fill("#id_username", username)
    page.fill("#id_password", BROWSER_PASSWORD)
    page.click("[data-testid=login-submit]")
    expect(page).to_have_url(f"{base_url}/")
    expect(page.get_by_test_id("nav-username")).to_have_text(username)


def switch_to(page: Page, label: str) -> None:
    """Picks a workspace in the header: the page submits the switcher by itself."""
    # Its script has run (it hides the button), so the change is listened for.
    expect(page.get_by_test_id("workspace-submit")).to_be_hidden()
    with page.expect_navigation():
        page.get_by_test_id("workspace-switcher").select_option(label=label)
    expect(page.get_by_test_id("workspace-switcher").locator("option:checked")).to_have_text(label)


def job_events(page: Page) -> list[dict]:
    """Every job event the page's job sockets receive from now on (sockets opened by the pages
    it loads next), appended as they arrive: what reached the browser, whatever the page drew."""
    events: list[dict] = []

    def listen(socket) -> None:
        if socket.url.endswith("/ws/jobs/"):
            socket.on("framereceived", lambda payload: events.append(json.loads(payload)))

    page.on("websocket", listen)
    return events


def statuses_of(events: list[dict], job_id: int) -> list[str]:
    return [event["status"] for event in events if event.get("job") == job_id]


def mark_page(page: Page) -> None:
    """A flag on the loaded page: still set later, the page was not reloaded meanwhile."""
    page.evaluate("() => { window.notReloaded = true; }")


def not_reloaded(page: Page) -> bool:
    return page.evaluate("() => window.notReloaded") is True


def screenshot(page: Page, folder: Path, name: str) -> Path:
    """A full-page shot named after `name` and the viewport, its path printed for a look."""
    size = page.viewport_size
    shot = folder / f"{name}-{size['width']}x{size['height']}.png"
    page.screenshot(path=shot, full_page=True)
    print(f"screenshot: {shot}")
    return shot


# axe-core's impacts that fail a page: the moderate and minor ones are reported, not failed.
AXE_FAILING_IMPACTS = {"serious", "critical"}


def assert_accessible(page: Page, rules: list[str] | None = None) -> None:
    """axe-core on the page as it stands (all its rules, or only `rules`): no serious or critical
    violation (each named, with the elements it found, when the assertion fails)."""
    from axe_playwright_python.sync_playwright import Axe

    options = {"resultTypes": ["violations"]}
    if rules:
        options["runOnly"] = {"type": "rule", "values": rules}
    violations = Axe().run(page, options=options).response["violations"]
    failing = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
        for v in violations
        if v["impact"] in AXE_FAILING_IMPACTS
    ]
    assert failing == [], f"{page.url}:\n" + "\n".join(failing)
