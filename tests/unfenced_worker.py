"""A Celery worker with the claim fence removed, for the chaos tests' negative control: its writes
to a job no longer check that it still holds the job's claim, so a worker that was taken for dead
but was only stopped overwrites the run that took over from it.

    python -m tests.unfenced_worker -A portal worker ...
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup()

from celery.__main__ import main  # noqa: E402

from transcription.models import Job  # noqa: E402


def _as_held_ignoring_the_claim(self: Job):
    return Job.objects.filter(pk=self.pk)


if __name__ == "__main__":
    Job._as_held = _as_held_ignoring_the_claim
    main()
