"""The History and search at scale: 10,000 recordings and 1,000,000 transcript lines.

Makes a PostgreSQL database of its own (`voxa_history_bench`, dropped and made anew), migrates it,
and fills it: one user's recordings, half in their personal workspace and half in a team of
theirs, each with a finished job of `--lines` segments (COPY for the segments, bulk_create for
the rest); a tenth have an older failed job too. Then it times, in this process, through DRF's
test client (routing, permissions, serializers and the database; no network), many requests of:
the API list (the History page) on pages 1 and 50, with filters, with ?q= over names and
transcripts, and /api/search/. Printed: the build time, p50/p95 per request kind (target: p95 <
300 ms), and EXPLAIN ANALYZE of the two text searches.

    .venv/bin/python -m bench.history_scale                       # 10,000 x 100 lines
    .venv/bin/python -m bench.history_scale --recordings 1000 --lines 20 --requests 10
"""

import argparse
import io
import os
import random
import statistics
import tempfile
import time

DATABASE = "voxa_history_bench"
WORDS = [
    "the",
    "budget",
    "meeting",
    "plan",
    "team",
    "review",
    "quarter",
    "會議",
    "预算",
    "today",
    "customer",
    "release",
    "risk",
    "we",
]
RARE = "kenobi"  # in about one line in 10,000, and one recording name in 1,000
TARGET_MS = 300


def fresh_database(name: str) -> None:
    import psycopg2

    admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # its own: a killed run's
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    os.environ.update(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{name}",
        DATA_DIR=tempfile.mkdtemp(prefix="voxa-history-bench-"),
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"),
        DJANGO_SETTINGS_MODULE="portal.settings",
    )


def line(rng: random.Random) -> str:
    if rng.random() < 0.0001:
        return f"General {RARE}, said the {rng.choice(WORDS)}."
    return " ".join(rng.choices(WORDS, k=rng.randint(4, 12))) + "."


def build(recordings: int, lines: int) -> object:
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Membership, Role, Team
    from tests.factories import UserFactory
    from transcription.models import Job, JobStatus, Recording

    rng = random.Random(7)
    user = UserFactory(username="historian")
    team = Team.objects.create(name="Bench team")
    Membership.objects.create(team=team, user=user, role=Role.OWNER)
    now = timezone.now()
    Recording.objects.bulk_create(
        Recording(
            owner=user,
            team=team if n % 2 else None,
            file=f"bench/{n}.wav",
            name=f"{RARE}-{n}.wav" if n % 1000 == 0 else f"{rng.choice(WORDS)}-call-{n}.wav",
            size_bytes=1000,
            container="wav",
            codec="pcm_s16le",
            sample_rate=16000,
            channels=1,
            duration_s=rng.uniform(10, 7200),
            created_at=now - timezone.timedelta(minutes=n),
        )
        for n in range(recordings)
    )
    ids = list(Recording.objects.order_by("pk").values_list("pk", flat=True))
    jobs, lines_of_jobs = [], []
    for n, recording_id in enumerate(ids):
        if n % 10 == 0:
            jobs.append(
                Job(
                    recording_id=recording_id,
                    owner=user,
                    status=JobStatus.FAILED,
                    model="whisper-base",
                    created_at=now - timezone.timedelta(days=1, minutes=n),
                )
            )
        texts = [line(rng) for _ in range(lines)]
        lines_of_jobs.append(texts)
        jobs.append(
            Job(
                recording_id=recording_id,
                owner=user,
                status=JobStatus.SUCCEEDED,
                model=rng.choice(["whisper-base", "sensevoice-small"]),
                language=rng.choice(["auto", "en", "zh"]),
                detected_language="en",
                text=" ".join(texts),
                created_at=now - timezone.timedelta(minutes=n),
            )
        )
    Job.objects.bulk_create(jobs, batch_size=1000)  # PostgreSQL sets their ids
    finished = [job for job in jobs if job.status == JobStatus.SUCCEEDED]
    segments = io.StringIO()
    for job, texts in zip(finished, lines_of_jobs, strict=True):
        for index, text in enumerate(texts):
            segments.write(f"{job.pk}\t{index}\t{index * 3.0}\t{index * 3.0 + 2.5}\t{text}\t\n")
    segments.seek(0)
    with connection.cursor() as cursor:
        cursor.copy_expert(
            'COPY transcription_segment (job_id, index, start, "end", text, speaker) FROM STDIN',
            segments,
        )
        cursor.execute("ANALYZE")
    return user


def timed(client, path: str, query: dict, requests: int) -> list[float]:
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path, query)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, query, response.content[:300])
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recordings", type=int, default=10_000)
    parser.add_argument("--lines", type=int, default=100, help="segments per recording")
    parser.add_argument("--requests", type=int, default=40, help="per request kind")
    args = parser.parse_args()

    fresh_database(DATABASE)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from rest_framework.test import APIClient

    from transcription import selectors

    settings.ALLOWED_HOSTS = ["*"]
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrated = time.perf_counter()
    user = build(args.recordings, args.lines)
    built = time.perf_counter()
    print(
        f"migrate {migrated - started:.1f} s; built {args.recordings} recordings and "
        f"{args.recordings * args.lines} segments in {built - migrated:.1f} s"
    )

    client = APIClient()
    client.force_authenticate(user)
    page = min(50, max(1, args.recordings // 50))  # 50 on the full set
    kinds = {
        "list page 1": ("/api/recordings/", {}),
        "list page 50": ("/api/recordings/", {"page": page}),
        "list filtered (status, language, duration, by name)": (
            "/api/recordings/",
            {"status": "succeeded", "language": "zh", "duration_min": 600, "ordering": "name"},
        ),
        "list ?q= rare word (names + transcripts)": ("/api/recordings/", {"q": RARE}),
        "list ?q= common word, page 50": ("/api/recordings/", {"q": "budget", "page": page}),
        "list ?q= Chinese": ("/api/recordings/", {"q": "会议"}),
        "search ?q= rare word": ("/api/search/", {"q": RARE}),
        "search ?q= Chinese, page 50": ("/api/search/", {"q": "预算", "page": page}),
    }
    print(f"\n{'request':55} {'p50 ms':>8} {'p95 ms':>8}")
    worst = 0.0
    for label, (path, query) in kinds.items():
        timed(client, path, query, 2)  # warm the caches
        times = timed(client, path, query, args.requests)
        p95 = statistics.quantiles(times, n=20)[18]
        worst = max(worst, p95)
        print(f"{label:55} {statistics.median(times):8.1f} {p95:8.1f}")
    print(f"\nworst p95 {worst:.1f} ms: {'under' if worst < TARGET_MS else 'OVER'} {TARGET_MS} ms")

    history = selectors.recording_history(user, None, selectors.HistoryFilters(q=RARE))
    print("\nEXPLAIN ANALYZE, the History's ?q=:\n" + history[:50].explain(analyze=True))
    lines = selectors.transcript_matches(user, RARE)
    print("\nEXPLAIN ANALYZE, /api/search/:\n" + lines[:50].explain(analyze=True))


if __name__ == "__main__":
    main()
