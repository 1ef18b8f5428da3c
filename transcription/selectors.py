"""Reads, always scoped to the requesting user: another user's object is simply not found."""

from functools import reduce
from operator import or_

import zhconv
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery

from transcription.models import HotwordList, Job, JobStatus, Recording, Segment, Upload


def jobs_for(user: AbstractBaseUser) -> QuerySet[Job]:
    return Job.objects.filter(owner=user).select_related("recording")


def recordings_for(user: AbstractBaseUser) -> QuerySet[Recording]:
    latest_first = Job.objects.order_by("-created_at", "-id")
    return Recording.objects.filter(owner=user).prefetch_related(
        Prefetch("jobs", queryset=latest_first)
    )


def hotword_lists_for(user: AbstractBaseUser) -> QuerySet[HotwordList]:
    return HotwordList.objects.filter(owner=user)


def uploads_for(user: AbstractBaseUser) -> QuerySet[Upload]:
    return Upload.objects.filter(owner=user)


def transcript_matches(user: AbstractBaseUser, query: str) -> QuerySet[Segment]:
    """The lines of the user's transcripts that contain `query`, in any case and, for Chinese, in
    either script (a transcript is simplified or traditional as its job chose). Only each
    recording's latest job counts: it is the transcript its page shows. Newest recording first."""
    latest_job = (
        Job.objects.filter(recording=OuterRef("job__recording"))
        .order_by("-created_at", "-id")
        .values("pk")[:1]
    )
    return (
        Segment.objects.filter(
            reduce(or_, (Q(text__icontains=spelling) for spelling in search_spellings(query))),
            job__owner=user,
            job__status=JobStatus.SUCCEEDED,
            job=Subquery(latest_job),
        )
        .select_related("job__recording")
        .order_by("-job__recording__created_at", "-job__recording_id", "index")
    )


def search_spellings(query: str) -> set[str]:
    """`query` as typed, in simplified and in traditional Chinese characters."""
    return {query, zhconv.convert(query, "zh-hans"), zhconv.convert(query, "zh-hant")}
