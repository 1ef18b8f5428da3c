"""The job queue as users and staff see it: which band a job is queued in, the waiting jobs in
the order they will run, a job's place in that order and when it should start.

Fairness comes from the broker, not from here: each job's message is sent with a priority
(kombu's Redis transport keeps a list per priority, and a worker's BRPOP names the priority-0
list first, each list first in, first out). A job's band is how many jobs its owner, or its
workspace, already has queued or running: a colleague's single file (band 0) is taken before the
second and later files of someone's batch of 200 (bands 1-9).

The bound: with late acks and a prefetch multiplier of 1, a worker of S slots holds at most S
unacknowledged messages, running ones included (Celery's prefetch count is concurrency x
multiplier; kombu's QoS.can_consume stops fetching at that many). So once a job of band 0 is
queued, at most S jobs per worker (the messages those workers already hold) start before it,
besides band-0 jobs of other owners queued earlier (one per owner at most: an owner's second
active job is in band 1 or later). For two users, A with a backlog and B with one new file: at
most S x W of A's files start after B's job is queued and before it, W being the workers.

The estimate: the fleet's throughput, in audio seconds per wall second, is the audio of the
last THROUGHPUT_SAMPLE succeeded jobs divided by the wall time they ran (their per-job speed,
measured as they shared their workers), times the jobs running now (at least one). A job's
expected start is the audio queued ahead of it plus what the running jobs have left (their
audio times the share not done yet), divided by that throughput: the time the fleet needs to
get through the work ahead. None until a job has been measured. Audio of unknown length counts
as none."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import Count, F, FloatField, Q, QuerySet, Sum, Window
from django.db.models.functions import Coalesce, Extract, RowNumber

from transcription.models import ACTIVE_STATUSES, Job, JobStatus

LAST_BAND = max(settings.CELERY_BROKER_TRANSPORT_OPTIONS["priority_steps"])
THROUGHPUT_SAMPLE = 50
# The order the broker serves them in; a job not yet sent (no queued_at) after those sent.
RUN_ORDER = (F("priority").asc(), F("queued_at").asc(nulls_last=True), F("id").asc())
_AUDIO_S = Coalesce(F("recording__duration_s"), 0.0, output_field=FloatField())


def band_for(job: Job) -> int:
    """The broker priority for `job` as it is (re)queued now: how many other jobs its owner, or
    the team its recording is in, has queued or running (the larger), up to LAST_BAND. Running
    jobs count too: a batch's nth file gets band n-1 however fast the workers take the first."""
    mine = Q(owner_id=job.owner_id)
    team_id = job.recording.team_id
    workspace = Q(recording__team_id=team_id) if team_id is not None else mine
    counts = (
        Job.objects.filter(mine | workspace, status__in=ACTIVE_STATUSES)
        .exclude(pk=job.pk)
        .aggregate(owner=Count("pk", filter=mine), workspace=Count("pk", filter=workspace))
    )
    return min(max(counts["owner"], counts["workspace"]), LAST_BAND)


def waiting_jobs() -> QuerySet[Job]:
    """The queued jobs in the order they will run, each with its `position` (1 runs next) and
    the `audio_ahead_s` of the jobs before it."""
    return (
        Job.objects.filter(status=JobStatus.QUEUED)
        .annotate(
            position=Window(RowNumber(), order_by=RUN_ORDER),
            audio_ahead_s=Window(Sum(_AUDIO_S), order_by=RUN_ORDER) - _AUDIO_S,
        )
        .order_by(*RUN_ORDER)
    )


@dataclass(frozen=True)
class Throughput:
    """What the estimates divide by, measured from the database at one moment."""

    audio_s_per_s: float | None  # the fleet's; None: no job measured yet
    running_jobs: int
    running_left_s: float  # audio the running jobs have still to do

    def seconds_for(self, audio_s: float) -> float | None:
        """How long the fleet needs for `audio_s` more after what is running now."""
        if not self.audio_s_per_s:
            return None
        return round((audio_s + self.running_left_s) / self.audio_s_per_s, 1)


def throughput() -> Throughput:
    # By id, newest first: the primary key's index stops the scan after the sample.
    sample = Job.objects.filter(
        status=JobStatus.SUCCEEDED,
        started_at__isnull=False,
        finished_at__gt=F("started_at"),
        recording__duration_s__gt=0,
    ).order_by("-id")[:THROUGHPUT_SAMPLE]
    measured = Job.objects.filter(pk__in=sample.values("pk")).aggregate(
        audio=Sum("recording__duration_s"),
        # Extract answers an integer field: seconds with their fractions need a float one.
        wall=Sum(Extract(F("finished_at") - F("started_at"), "epoch"), output_field=FloatField()),
    )
    running = Job.objects.filter(status=JobStatus.RUNNING).aggregate(
        jobs=Count("pk"),
        left=Coalesce(Sum(_AUDIO_S * (100.0 - F("progress")) / 100.0), 0.0),
    )
    per_job = measured["audio"] / measured["wall"] if measured["wall"] else None
    return Throughput(
        audio_s_per_s=per_job * max(running["jobs"], 1) if per_job else None,
        running_jobs=running["jobs"],
        running_left_s=running["left"],
    )


@dataclass(frozen=True)
class Place:
    position: int  # 1: the next to run
    eta_s: float | None  # expected start, seconds from now; None: nothing measured yet


def places(jobs: Iterable[Job]) -> dict[int, Place]:
    """The place of each queued job among `jobs` (others are left out), in three queries
    whatever their number; none when none is queued."""
    ids = [job.pk for job in jobs if job.status == JobStatus.QUEUED]
    if not ids:
        return {}
    # The positions are counted over the whole queue, so the jobs are picked from its ranking
    # afterwards: a filter on the ranking queryset itself would rank only the jobs picked.
    ranking = waiting_jobs().values("id", "position", "audio_ahead_s")
    sql, params = ranking.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, position, audio_ahead_s FROM ({sql}) AS ranking WHERE id = ANY(%s)",
            [*params, ids],
        )
        ranked = cursor.fetchall()
    fleet = throughput()
    return {pk: Place(position, fleet.seconds_for(ahead)) for pk, position, ahead in ranked}


@dataclass(frozen=True)
class QueueTotals:
    jobs: int
    audio_s: float
    drain_eta_s: float | None  # when the queue should be empty at the measured throughput
    throughput: Throughput


def totals() -> QueueTotals:
    waiting = Job.objects.filter(status=JobStatus.QUEUED).aggregate(
        jobs=Count("pk"), audio=Coalesce(Sum(_AUDIO_S), 0.0)
    )
    fleet = throughput()
    drain = fleet.seconds_for(waiting["audio"]) if waiting["jobs"] else 0.0
    return QueueTotals(waiting["jobs"], waiting["audio"], drain, fleet)


def audiences_behind(priority: int, queued_at: datetime | None) -> QuerySet:
    """(owner, team, private) of the recordings whose waiting jobs run after a job of this
    band sent at `queued_at`: their places moved when that job was claimed, left or came in."""
    behind = Q(priority__gt=priority)
    if queued_at is not None:
        behind |= Q(priority=priority, queued_at__gt=queued_at) | Q(
            priority=priority, queued_at__isnull=True
        )
    return (
        Job.objects.filter(behind, status=JobStatus.QUEUED)
        .values_list("recording__owner_id", "recording__team_id", "recording__private")
        .distinct()
    )
