"""Reads, always scoped to what the requesting user may see: anything else is simply not found.

Who sees a recording (and its jobs, transcript, audio, exports and progress):
- in the uploader's personal workspace (no team): the uploader;
- in a team: every member, unless the uploader marked it private; a private one its uploader
  and the team's owners and admins. Someone removed from the team sees none of it, their own
  uploads included.
Who steers one (rename, move, delete, cancel, retry): the uploader, and in a team also its
owners and admins. Members read.
"""

from dataclasses import dataclass
from datetime import date
from functools import reduce
from operator import or_

import zhconv
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery

from accounts.models import MANAGING_ROLES, Membership, Team
from transcription.models import HotwordList, Job, JobStatus, Recording, Segment, Upload

PERSONAL = "personal"


def member_team_ids(user: AbstractBaseUser) -> QuerySet:
    return Membership.objects.filter(user=user).values("team")


def managed_team_ids(user: AbstractBaseUser) -> QuerySet:
    return Membership.objects.filter(user=user, role__in=MANAGING_ROLES).values("team")


def _q(prefix: str, **lookups: object) -> Q:
    """Lookups on a recording, reached from another model through `prefix` ("recording__")."""
    return Q(**{prefix + name: value for name, value in lookups.items()})


def _visible(user: AbstractBaseUser, prefix: str = "") -> Q:
    """The recordings `user` may see (the module's docstring says which)."""
    in_my_teams = _q(prefix, team__in=member_team_ids(user))
    return _q(prefix, team__isnull=True, owner=user) | in_my_teams & (
        _q(prefix, private=False) | _steered(user, prefix)
    )


def _managed(user: AbstractBaseUser, prefix: str = "") -> Q:
    in_my_teams = _q(prefix, team__in=member_team_ids(user))
    return _q(prefix, team__isnull=True, owner=user) | in_my_teams & _steered(user, prefix)


def _steered(user: AbstractBaseUser, prefix: str) -> Q:
    """Within the user's teams: their own uploads, and all of the teams they manage."""
    return _q(prefix, owner=user) | _q(prefix, team__in=managed_team_ids(user))


def in_workspace(recordings: QuerySet[Recording], workspace: "Team | str | None") -> QuerySet:
    """Narrowed to one workspace: PERSONAL, a team, or None for every workspace."""
    if workspace is None:
        return recordings
    if workspace == PERSONAL:
        return recordings.filter(team__isnull=True)
    return recordings.filter(team=workspace)


def recordings_for(user: AbstractBaseUser, workspace: "Team | str | None" = None) -> QuerySet:
    latest_first = Job.objects.order_by("-created_at", "-id")
    visible = Recording.objects.filter(_visible(user)).select_related("team", "owner")
    return in_workspace(visible, workspace).prefetch_related(
        Prefetch("jobs", queryset=latest_first), "tags"
    )


def recordings_managed_by(user: AbstractBaseUser) -> QuerySet[Recording]:
    return Recording.objects.filter(_managed(user))


def may_move(user: AbstractBaseUser, recording: Recording) -> bool:
    """Only its uploader moves a recording, and only out of their personal workspace (into a team
    of theirs): a team's recording stays in the team."""
    return recording.team_id is None and recording.owner_id == user.pk


def jobs_for(user: AbstractBaseUser) -> QuerySet[Job]:
    return (
        Job.objects.filter(_visible(user, "recording__"))
        .select_related("recording__owner")
        .prefetch_related("recording__tags")
    )


def jobs_managed_by(user: AbstractBaseUser) -> QuerySet[Job]:
    return Job.objects.filter(_managed(user, "recording__"))


def teams_for(user: AbstractBaseUser) -> QuerySet[Team]:
    return Team.objects.filter(memberships__user=user)


def team_for(user: AbstractBaseUser, team_id: object) -> Team | None:
    """The team `team_id` names if `user` is one of its members, else None."""
    try:
        return teams_for(user).filter(pk=int(team_id)).first()
    except (TypeError, ValueError):
        return None


def hotword_lists_visible_to(user: AbstractBaseUser) -> QuerySet[HotwordList]:
    """The user's own lists and those of their teams."""
    return HotwordList.objects.filter(
        Q(owner=user, team__isnull=True) | Q(team__in=member_team_ids(user))
    )


def hotword_lists_managed_by(user: AbstractBaseUser) -> QuerySet[HotwordList]:
    """The user's own lists, and their teams' where they are an owner or admin."""
    return HotwordList.objects.filter(
        Q(owner=user, team__isnull=True) | Q(team__in=managed_team_ids(user))
    )


def team_hotword_lists(team: Team) -> QuerySet[HotwordList]:
    return HotwordList.objects.filter(team=team)


def hotword_lists_in(user: AbstractBaseUser, workspace: "Team | str") -> QuerySet[HotwordList]:
    """The lists of one workspace that `user` sees: their own in PERSONAL, a team's in it (none
    of a team they are not in)."""
    visible = hotword_lists_visible_to(user)
    if workspace == PERSONAL:
        return visible.filter(team__isnull=True)
    return visible.filter(team=workspace)


def manages_team(user: AbstractBaseUser, team: Team) -> bool:
    """An owner or admin of `team`: they make and change its hotword lists."""
    return managed_team_ids(user).filter(team=team).exists()


def may_change_hotword_list(user: AbstractBaseUser, hotword_list: HotwordList) -> bool:
    """The one rule the API and the pages share: a list the user sees, they change only if
    hotword_lists_managed_by has it."""
    return hotword_lists_managed_by(user).filter(pk=hotword_list.pk).exists()


def uploads_for(user: AbstractBaseUser) -> QuerySet[Upload]:
    return Upload.objects.filter(owner=user)


def transcript_matches(
    user: AbstractBaseUser, query: str, workspace: "Team | str | None" = None
) -> QuerySet[Segment]:
    """The lines of the transcripts the user may see (in `workspace`, or in all) that contain
    `query`, in any case and, for Chinese, in either script (a transcript is simplified or
    traditional as its job chose). Only each recording's latest job counts: it is the transcript
    its page shows. Newest recording first."""
    latest_job = (
        Job.objects.filter(recording=OuterRef("job__recording"))
        .order_by("-created_at", "-id")
        .values("pk")[:1]
    )
    return (
        Segment.objects.filter(
            reduce(or_, (Q(text__icontains=spelling) for spelling in search_spellings(query))),
            job__recording__in=in_workspace(Recording.objects.filter(_visible(user)), workspace),
            job__status=JobStatus.SUCCEEDED,
            job=Subquery(latest_job),
        )
        .select_related("job__recording")
        .order_by("-job__recording__created_at", "-job__recording_id", "index")
    )


def search_spellings(query: str) -> set[str]:
    """`query` as typed, in simplified and in traditional Chinese characters."""
    return {query, zhconv.convert(query, "zh-hans"), zhconv.convert(query, "zh-hant")}


@dataclass(frozen=True)
class HistoryFilters:
    """What the History page narrows and orders recordings by; None (or "") leaves one out.
    language, model and status are those of each recording's latest job, as the page shows."""

    q: str = ""
    date_from: date | None = None
    date_to: date | None = None
    language: str = ""
    model: str = ""
    status: str = ""
    duration_min: float | None = None
    duration_max: float | None = None
    tag: str = ""
    ordering: str = "-created_at"


def _latest_job(field: str) -> Subquery:
    return Subquery(
        Job.objects.filter(recording=OuterRef("pk"))
        .order_by("-created_at", "-id")
        .values(field)[:1]
    )


def recording_history(
    user: AbstractBaseUser, workspace: "Team | str | None", filters: HistoryFilters
) -> QuerySet[Recording]:
    """recordings_for, filtered and ordered in the database. The text search looks in the name
    and in the transcript of the latest job (either Chinese script): in PostgreSQL, the trigram
    indexes of migration 0008 serve both ILIKEs (a query of three characters or more)."""
    recordings = recordings_for(user, workspace).annotate(latest_job_id=_latest_job("pk"))
    if filters.q:
        spellings = search_spellings(filters.q)
        named = reduce(or_, (Q(name__icontains=spelling) for spelling in spellings))
        # The lines, not Job.text: PostgreSQL's planner takes a scan of the jobs for cheap (their
        # texts lie out of line, TOASTed, which its costs leave out) and skips the index.
        # DISTINCT: estimated at one row a job, not one a line, the set fits in memory and is
        # hashed once; else, for a common word, it was scanned again for every recording.
        said = (
            Segment.objects.filter(
                reduce(or_, (Q(text__icontains=spelling) for spelling in spellings))
            )
            .values("job_id")
            .distinct()
        )
        recordings = recordings.filter(named | Q(latest_job_id__in=said))
    if filters.date_from:
        recordings = recordings.filter(created_at__date__gte=filters.date_from)
    if filters.date_to:
        recordings = recordings.filter(created_at__date__lte=filters.date_to)
    if filters.duration_min is not None:
        recordings = recordings.filter(duration_s__gte=filters.duration_min)
    if filters.duration_max is not None:
        recordings = recordings.filter(duration_s__lte=filters.duration_max)
    if filters.tag:
        recordings = recordings.filter(tags__name=filters.tag)  # one tag of a name a workspace
    latest = _latest_job_filter(filters)
    if latest:
        recordings = recordings.filter(latest_job_id__in=Job.objects.filter(latest).values("pk"))
    return recordings.order_by(filters.ordering, "-id" if filters.ordering[0] == "-" else "id")


def _latest_job_filter(filters: HistoryFilters) -> Q:
    """The conditions on a recording's latest job: its status, model, and its language (the one
    asked for, or the one found when it was "auto")."""
    wanted = Q()
    if filters.status:
        wanted &= Q(status=filters.status)
    if filters.model:
        wanted &= Q(model=filters.model)
    if filters.language:
        wanted &= Q(language=filters.language) | Q(detected_language=filters.language)
    return wanted
