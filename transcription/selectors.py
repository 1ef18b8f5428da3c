"""Reads, always scoped to the requesting user: another user's object is simply not found."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Prefetch, QuerySet

from transcription.models import HotwordList, Job, Recording


def jobs_for(user: AbstractBaseUser) -> QuerySet[Job]:
    return Job.objects.filter(owner=user).select_related("recording")


def recordings_for(user: AbstractBaseUser) -> QuerySet[Recording]:
    latest_first = Job.objects.order_by("-created_at", "-id")
    return Recording.objects.filter(owner=user).prefetch_related(
        Prefetch("jobs", queryset=latest_first)
    )


def hotword_lists_for(user: AbstractBaseUser) -> QuerySet[HotwordList]:
    return HotwordList.objects.filter(owner=user)
