"""What a workspace uses and may use: audio hours uploaded this calendar month (by the site's
TIME_ZONE) and audio bytes stored. A team's limits are set by the site's staff on the Team row;
every personal workspace has the site's PERSONAL_* settings. A limit of None is no limit.

Recordings whose audio retention removed count no more towards storage; a recording deleted
this month gives its hours back (the usage is what the workspace holds, not a ledger).
"""

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet, Sum
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from accounts.models import Team
from transcription.models import Recording
from transcription.probe import RejectedUpload
from transcription.selectors import PERSONAL

GB = 1024**3
HOUR_S = 3600


class Limit(StrEnum):
    AUDIO_HOURS = "audio_hours"
    STORAGE = "storage"


class QuotaExceeded(RejectedUpload):
    """An upload the workspace has no room for; the message says what is left in plain words,
    `limit` which of the two limits it would pass."""

    def __init__(self, message: str, *, limit: Limit) -> None:
        super().__init__(message)
        self.limit = limit


@dataclass(frozen=True)
class Usage:
    workspace: Team | str
    month: date  # its first day
    audio_s: float
    audio_hours_limit: float | None
    storage_bytes: int
    storage_gb_limit: float | None

    @property
    def audio_hours(self) -> float:
        return self.audio_s / HOUR_S

    @property
    def audio_hours_left(self) -> float | None:
        if self.audio_hours_limit is None:
            return None
        return max(0.0, self.audio_hours_limit - self.audio_hours)

    @property
    def storage_limit_bytes(self) -> int | None:
        return None if self.storage_gb_limit is None else round(self.storage_gb_limit * GB)

    @property
    def storage_bytes_left(self) -> int | None:
        if self.storage_limit_bytes is None:
            return None
        return max(0, self.storage_limit_bytes - self.storage_bytes)


def month_start(now: datetime | None = None) -> datetime:
    """Midnight of the first day of this month, in the site's TIME_ZONE."""
    local = timezone.localtime(now)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _recordings(workspace: Team | str, user: AbstractBaseUser | None) -> QuerySet[Recording]:
    if workspace == PERSONAL:
        return Recording.objects.filter(owner=user, team__isnull=True)
    return Recording.objects.filter(team=workspace)


def _limits(workspace: Team | str) -> tuple[float | None, float | None]:
    if workspace == PERSONAL:
        return settings.PERSONAL_MONTHLY_AUDIO_HOURS, settings.PERSONAL_STORAGE_GB
    return workspace.monthly_audio_hours, workspace.storage_gb


def usage(workspace: Team | str, user: AbstractBaseUser | None = None) -> Usage:
    """A team's usage (`usage(team)`, as the team page asks), or with PERSONAL `user`'s
    personal workspace's. Whether the asker may see it is the caller's to check: the API answers
    non-members 404."""
    start = month_start()
    recordings = _recordings(workspace, user)
    audio_s = recordings.filter(created_at__gte=start).aggregate(s=Sum("duration_s"))["s"]
    stored = recordings.filter(audio_removed_at__isnull=True).aggregate(b=Sum("size_bytes"))["b"]
    hours_limit, gb_limit = _limits(workspace)
    return Usage(
        workspace=workspace,
        month=start.date(),
        audio_s=audio_s or 0.0,
        audio_hours_limit=hours_limit,
        storage_bytes=stored or 0,
        storage_gb_limit=gb_limit,
    )


def ensure_room(
    workspace: Team | str, user: AbstractBaseUser, size_bytes: int, duration_s: float | None
) -> None:
    """Raise QuotaExceeded unless the workspace has room for a recording of this size and length
    (None: not known yet, as when a resumable upload is announced; then only a month with no
    hours left at all is refused, since no file could fit).

    Call it inside the transaction that stores the recording: the team's row (the user's, for
    the personal workspace) stays locked until that commits, so two uploads at once are counted
    one after the other and cannot both squeeze past a limit. A "no key" lock: it waits only
    for another such check (or a change of the row), never blocks rows merely referring to it.
    """
    if _limits(workspace) == (None, None):
        return  # unlimited (the default): no lock to take, nothing to count on every upload
    if workspace == PERSONAL:
        get_user_model().objects.select_for_update(no_key=True).get(pk=user.pk)
    else:
        Team.objects.select_for_update(no_key=True).get(pk=workspace.pk)
    now = usage(workspace, user)
    whose = "you have" if workspace == PERSONAL else "the team has"
    if now.storage_bytes_left is not None and size_bytes > now.storage_bytes_left:
        raise QuotaExceeded(
            f"This upload needs {filesizeformat(size_bytes)} of storage but {whose} "
            f"{filesizeformat(now.storage_bytes_left)} left "
            f"({filesizeformat(now.storage_limit_bytes)} in all).",
            limit=Limit.STORAGE,
        )
    left = now.audio_hours_left
    if left is None:
        return
    a_month = f"({_hours_text(now.audio_hours_limit)} a month)"
    if duration_s is None and left <= 0:
        raise QuotaExceeded(
            f"{whose.capitalize()} no audio hours left this month {a_month}.",
            limit=Limit.AUDIO_HOURS,
        )
    if duration_s is not None and duration_s / HOUR_S > left:
        raise QuotaExceeded(
            f"This upload needs {_hours_text(duration_s / HOUR_S)} of audio but {whose} "
            f"{_hours_text(left)} left this month {a_month}.",
            limit=Limit.AUDIO_HOURS,
        )


def _hours_text(hours: float) -> str:
    """1.5 h, 10 h; under an hour in minutes (12 min), under a minute in seconds: a short clip
    does not read as "0.0 h"."""
    if hours >= 1:
        return f"{round(hours, 1):g} h"
    if hours * 60 >= 1:
        return f"{hours * 60:.0f} min"
    return f"{hours * HOUR_S:.0f} s"
