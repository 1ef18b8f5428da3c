"""Load on the whole portal: many users and open websockets against Nginx + web + worker.

Starts its own stack on this machine, as deployed: the distribution's Nginx with the deployment's
configuration (deploy/nginx/, rendered by tests/nginx.py) in front of the web process
(scripts/web.sh: uvicorn) and one Celery worker, against a PostgreSQL database of its own
(`voxa_bench`, dropped and made anew) and Redis database 14. The worker runs the tiny generated
Paraformer: what is measured is the portal (requests, uploads, the queue, notifications), not
recognition, which bench/engine_throughput.py measures.

Each simulated user logs in with the form, then until the time is up: lists its recordings,
uploads a short clip as the upload page does (announce, one chunk, finish), reads its job every
second until it ends, and exports the transcript. Meanwhile `--websockets` sockets stay open on
/ws/jobs/ (spread over the users, so each user's events reach several of them).

Printed: requests per second, p50/p95 of the API per call and overall, upload-to-job-start
latency (upload sent to the job's started_at), the web process's peak RSS, websockets opened,
dropped and refused and the events they received, errors. Targets: 0 errors, API p95 < 300 ms.

    .venv/bin/python -m bench.portal_load                      # 50 users, 200 websockets, 60 s
    .venv/bin/python -m bench.portal_load --users 10 --websockets 20 --seconds 15 --json out.json
"""

import argparse
import asyncio
import json
import os
import platform
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import requests
import websockets

ACTIVE = ("queued", "running")
POLL_S = 1.0
PASSWORD = "bench-pw-not-secret"
CLIPS = ("en_librispeech_1089-134686-0001.wav", "zh_aishell_BAC009S0724W0121.wav")


def configure_environment(database: str) -> None:
    """The stack's own database, Redis database, queue and folders, before Django reads them."""
    data_dir = Path(tempfile.mkdtemp(prefix="voxa-bench-"))
    os.environ.update(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{database}",
        REDIS_URL="redis://127.0.0.1:6379/14",
        CELERY_QUEUE="voxa-bench",
        CHANNELS_PREFIX="voxa-bench",
        CACHE_PREFIX="voxa-bench",
        DATA_DIR=str(data_dir),
        MEDIA_ACCEL_REDIRECT="true",
        TRUSTED_PROXIES="1",
        PYTHONUNBUFFERED="1",
    )
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("MODEL_CACHE_DIR", str(Path("data/models").resolve()))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")


def fresh_database(name: str) -> None:
    import psycopg2

    connection = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()


@dataclass
class Figures:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    job_start_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def timed(self, kind: str, send) -> requests.Response | None:
        """The answer of `send()`, its time counted under `kind`; None (an error) unless 2xx."""
        started = time.perf_counter()
        try:
            response = send()
        except requests.RequestException as error:
            self.error(f"{kind}: {error}")
            return None
        with self.lock:
            self.latencies[kind].append(time.perf_counter() - started)
        if response.status_code >= 400:
            self.error(f"{kind}: HTTP {response.status_code} {response.text[:200]}")
            return None
        return response

    def error(self, what: str) -> None:
        with self.lock:
            self.errors.append(what)


def upload_clip(base: str, session: requests.Session, clip: Path, figures: Figures) -> dict | None:
    """The upload page's way: announce the file, send it (one chunk: it is short), finish."""
    body = clip.read_bytes()
    announced = figures.timed(
        "upload: announce",
        lambda: session.post(
            f"{base}/api/uploads/", json={"name": clip.name, "size": len(body)}, timeout=60
        ),
    )
    if announced is None:
        return None
    upload_id = announced.json()["id"]
    sent = figures.timed(
        "upload: chunk",
        lambda: session.patch(
            f"{base}/api/uploads/{upload_id}/",
            data=body,
            headers={"Upload-Offset": "0", "Content-Type": "application/octet-stream"},
            timeout=60,
        ),
    )
    if sent is None:
        return None
    finished = figures.timed(
        "upload: finish",
        lambda: session.post(f"{base}/api/recordings/", json={"uploads": [upload_id]}, timeout=60),
    )
    return finished.json()["jobs"][0] if finished is not None else None


def wait_for_job(base: str, session: requests.Session, job: dict, figures: Figures) -> dict:
    """Read the job every POLL_S until it has ended (or two minutes have passed), as the page
    re-reads it on each of its websocket events (progress: at most about one a second)."""
    url = f"{base}/api/jobs/{job['id']}/"
    give_up = time.monotonic() + 120
    while job["status"] in ACTIVE and time.monotonic() < give_up:
        time.sleep(POLL_S)
        polled = figures.timed("poll", lambda: session.get(url, timeout=60))
        if polled is not None:
            job = polled.json()
    return job


def user_loop(
    base: str, session: requests.Session, clip: Path, deadline: float, figures: Figures
) -> None:
    """List, upload, poll the job to its end, export; again until the deadline."""
    while time.monotonic() < deadline:
        figures.timed("list", lambda: session.get(f"{base}/api/recordings/", timeout=60))
        sent_at = time.time()
        job = upload_clip(base, session, clip, figures)
        if job is None:
            time.sleep(1)  # a user who saw an error does not retry in a tight loop
            continue
        job = wait_for_job(base, session, job, figures)
        if job["status"] != "succeeded":
            figures.error(f"job {job['id']} ended {job['status']}: {job.get('error')}")
            continue
        started = datetime.fromisoformat(job["started_at"]).timestamp()
        with figures.lock:
            figures.job_start_s.append(started - sent_at)
        figures.timed(
            "export",
            lambda j=job: session.get(f"{base}/api/jobs/{j['id']}/export/?format=srt", timeout=60),
        )


@dataclass
class SocketFigures:
    opened: int = 0
    refused: int = 0
    dropped: int = 0
    events: int = 0


def hold_websockets(
    base: str, sessions: list[requests.Session], count: int, stop: threading.Event
) -> SocketFigures:
    """`count` sockets on /ws/jobs/, spread over the users' sessions, held until `stop`."""
    figures = SocketFigures()
    url = base.replace("http", "ws", 1) + "/ws/jobs/"

    async def hold(session: requests.Session) -> None:
        cookie = f"sessionid={session.cookies['sessionid']}"
        try:
            async with websockets.connect(
                url, additional_headers={"Cookie": cookie}, origin=base, open_timeout=30
            ) as socket:
                figures.opened += 1
                while not stop.is_set():
                    try:
                        await asyncio.wait_for(socket.recv(), timeout=0.5)
                        figures.events += 1
                    except TimeoutError:
                        continue
        except websockets.ConnectionClosed:
            figures.dropped += 1
        except (OSError, TimeoutError, websockets.InvalidHandshake):
            figures.refused += 1

    async def hold_all() -> None:
        await asyncio.gather(*(hold(sessions[i % len(sessions)]) for i in range(count)))

    asyncio.run(hold_all())
    return figures


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def run(args: argparse.Namespace) -> dict:
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from tests.audio_files import speech
    from tests.conftest import TINY_MODEL, running_web, start_worker, stop_process
    from tests.nginx import log_in, running_nginx
    from tests.process_memory import RssWatch
    from tests.tiny_models import build_tiny_paraformer

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    import redis

    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    model_dir = build_tiny_paraformer(Path(settings.MODEL_CACHE_DIR) / TINY_MODEL)
    env = {
        **os.environ,
        "ASR_MODEL": TINY_MODEL,
        "ASR_ENABLED_MODELS": TINY_MODEL,
        "ASR_MODEL_SOURCES": f"{TINY_MODEL}={model_dir}",
    }
    users = [
        get_user_model().objects.create_user(f"bench{i}", password=PASSWORD)
        for i in range(args.users)
    ]
    clips = [speech(name) for name in CLIPS]
    logs = Path(settings.DATA_DIR) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        worker = start_worker(env, "bench@localhost", settings.CELERY_TASK_DEFAULT_QUEUE,
                              logs / "worker.log")  # fmt: skip
        stack.callback(stop_process, worker)
        web_url, web_pid = stack.enter_context(running_web(env, logs / "web.log"))
        nginx = stack.enter_context(
            running_nginx(
                logs / "nginx",
                upstream=urlsplit(web_url).netloc,
                body_cap_mb=settings.REQUEST_MAX_BODY_MB,
            )
        )
        base = nginx.url
        figures = Figures()
        login_started = time.perf_counter()
        sessions = [log_in(base, user.username, PASSWORD) for user in users]
        login_s = time.perf_counter() - login_started
        # One job first, untimed: the worker loads its model on its first job.
        warm_up = Figures()
        wait_for_job(base, sessions[0], upload_clip(base, sessions[0], clips[0], warm_up), warm_up)
        rss = RssWatch(web_pid)
        stop_sockets = threading.Event()
        sockets: list[SocketFigures] = []
        socket_thread = threading.Thread(
            target=lambda: sockets.append(
                hold_websockets(base, sessions, args.websockets, stop_sockets)
            )
        )
        socket_thread.start()
        time.sleep(2)  # the sockets open before the load starts
        started = time.monotonic()
        deadline = started + args.seconds
        threads = [
            threading.Thread(
                target=user_loop, args=(base, session, clips[i % len(clips)], deadline, figures)
            )
            for i, session in enumerate(sessions)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall_s = time.monotonic() - started
        stop_sockets.set()
        socket_thread.join()
        rss.stop()
    all_latencies = [s for values in figures.latencies.values() for s in values]
    return {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "users": args.users,
        "websockets": args.websockets,
        "seconds": round(wall_s, 1),
        "logins_s": round(login_s, 2),
        "requests": len(all_latencies),
        "requests_per_s": round(len(all_latencies) / wall_s, 1),
        "api_ms": {
            kind: {
                "count": len(values),
                "p50": round(percentile(values, 50) * 1000, 1),
                "p95": round(percentile(values, 95) * 1000, 1),
            }
            for kind, values in sorted(figures.latencies.items())
        },
        "api_all_ms": {
            "p50": round(percentile(all_latencies, 50) * 1000, 1),
            "p95": round(percentile(all_latencies, 95) * 1000, 1),
        },
        "jobs_done": len(figures.job_start_s),
        "upload_to_job_start_s": {
            "p50": round(percentile(figures.job_start_s, 50), 2),
            "p95": round(percentile(figures.job_start_s, 95), 2),
        },
        "web_rss_mib": {"start": round(rss.baseline / 2**20), "peak": round(rss.peak / 2**20)},
        "websocket": vars(sockets[0]) if sockets else None,
        "errors": len(figures.errors),
        "first_errors": figures.errors[:10],
    }


def report(result: dict) -> None:
    print(f"portal load: {result['users']} users, {result['websockets']} websockets, "
          f"{result['seconds']} s on {result['cores']} cores ({result['cpu']})")  # fmt: skip
    print(f"  {result['requests']} API requests, {result['requests_per_s']} per second; "
          f"{result['jobs_done']} jobs done; errors: {result['errors']}")  # fmt: skip
    for kind, figures in result["api_ms"].items():
        print(f"  {kind:<16} n={figures['count']:<5} p50 {figures['p50']:>7} ms  "
              f"p95 {figures['p95']:>7} ms")  # fmt: skip
    overall = result["api_all_ms"]
    verdict = "met" if overall["p95"] < 300 and result["errors"] == 0 else "NOT met"
    print(f"  all API calls    p50 {overall['p50']} ms  p95 {overall['p95']} ms "
          f"(target p95 < 300 ms and 0 errors: {verdict})")  # fmt: skip
    start = result["upload_to_job_start_s"]
    print(f"  upload to job start: p50 {start['p50']} s, p95 {start['p95']} s")
    rss = result["web_rss_mib"]
    print(f"  web process RSS: {rss['start']} MiB at start, peak {rss['peak']} MiB")
    print(f"  websockets: {result['websocket']}")
    for error in result["first_errors"]:
        print(f"  error: {error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--websockets", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--database", default="voxa_bench")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    configure_environment(args.database)
    fresh_database(args.database)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    result = run(args)
    report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
