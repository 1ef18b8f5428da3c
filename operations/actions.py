"""Staff's actions on the workers and on the queue, each written to the audit log with what came
of it, refusals included.

A worker action goes to the worker processes themselves, as a Celery remote-control broadcast
that operations.control answers there, and each worker's answer is kept as it came; nothing here
touches a model, a GPU or a worker's state. A worker that does not answer within the timeout is
recorded as silent, not waited for.
"""

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser

from operations import control, selectors
from operations.models import AuditAction, AuditEntry
from portal.celery import app as celery_app
from transcription import services
from transcription.models import Job, JobStatus

WORKER_COMMANDS = {
    AuditAction.CLEAR_CACHE: control.CLEAR_CACHE,
    AuditAction.LOAD_MODEL: control.LOAD_MODEL,
    AuditAction.UNLOAD_MODEL: control.UNLOAD_MODEL,
    AuditAction.PAUSE: control.PAUSE,
    AuditAction.RESUME: control.RESUME,
    AuditAction.DRAIN: control.DRAIN,
}
# The actions that name a model preset.
MODEL_ACTIONS = frozenset({AuditAction.LOAD_MODEL, AuditAction.UNLOAD_MODEL})
ALL_WORKERS = "all workers"
# Jobs staff may send again: a succeeded job's transcript is its owner's, and a retry would
# replace it.
RETRYABLE = (JobStatus.FAILED, JobStatus.CANCELLED)


class ActionRefused(Exception):
    """An action its target cannot take as it stands (a job that has ended): recorded, then
    answered 409."""

    def __init__(self, detail: str, entry: AuditEntry) -> None:
        super().__init__(detail)
        self.detail = detail
        self.entry = entry


def worker_action(
    *, actor: AbstractBaseUser, action: AuditAction, worker: str | None = None, model: str = ""
) -> AuditEntry:
    """Send `action` to the worker named `worker`, or to every worker, and record each answer.
    With no name, the workers expected to answer are those whose heartbeat is live."""
    timeout = (
        settings.WORKER_MODEL_LOAD_TIMEOUT_S
        if action == AuditAction.LOAD_MODEL
        else settings.WORKER_CONTROL_TIMEOUT_S
    )
    expected = [worker] if worker else [w["name"] for w in selectors.worker_list() if w["online"]]
    replies: dict[str, dict[str, Any]] = {}
    for reply in celery_app.control.broadcast(
        WORKER_COMMANDS[action],
        arguments={"model": model} if action in MODEL_ACTIONS else {},
        destination=[worker] if worker else None,
        reply=True,
        timeout=timeout,
        # Done once every expected worker has answered, rather than at the timeout.
        limit=len(expected) or None,
    ):
        replies.update({name: _answer(answer) for name, answer in reply.items()})
    for name in expected:
        replies.setdefault(name, {"ok": False, "detail": f"no answer within {timeout:g} s"})
    result: dict[str, Any] = {"replies": replies}
    if action in MODEL_ACTIONS:
        result["model"] = model
    if not replies:
        result["detail"] = "no worker is online"
    ok = bool(replies) and all(answer["ok"] for answer in replies.values())
    return _record(actor, action, target=worker or ALL_WORKERS, ok=ok, result=result)


def _answer(answer: Any) -> dict[str, Any]:
    """A worker's answer as operations.control wrote it; Celery's own error answers (a command
    that raised, or that this worker's version lacks) in the same shape."""
    if isinstance(answer, dict) and isinstance(answer.get("ok"), bool):
        return answer
    error = answer.get("error") if isinstance(answer, dict) else None
    return {"ok": False, "detail": f"the worker failed to do it: {error or answer}"}


def job_cancel(*, actor: AbstractBaseUser, job: Job) -> AuditEntry:
    """Cancel anyone's queued or running job, naming `actor` on it: a queued job ends at once, a
    running one at its next clip (its worker reads the request from the database)."""
    was_active = job.is_active
    if was_active:
        services.job_cancel(job=job, by=actor)
    # Ended meanwhile, other than by this cancel: there was nothing left to cancel.
    if not (was_active and (job.is_active or job.status == JobStatus.CANCELLED)):
        raise _refused(actor, AuditAction.CANCEL_JOB, job, f"the job has already {job.status}")
    detail = (
        "cancelled"
        if job.status == JobStatus.CANCELLED
        else f"cancel requested: it stops at its next clip on {job.worker}"
    )
    return _record_on_job(actor, AuditAction.CANCEL_JOB, job, ok=True, detail=detail)


def job_retry(*, actor: AbstractBaseUser, job: Job) -> AuditEntry:
    """Queue a failed or cancelled job again, through the owner's own retry."""
    if job.status not in RETRYABLE:
        raise _refused(
            actor,
            AuditAction.RETRY_JOB,
            job,
            f"only a failed or cancelled job is retried, not a {job.status} one",
        )
    try:
        services.job_retry(job=job, by=actor)
    except ValueError as refusal:
        raise _refused(actor, AuditAction.RETRY_JOB, job, str(refusal)) from None
    return _record_on_job(actor, AuditAction.RETRY_JOB, job, ok=True, detail="queued again")


def _refused(actor: AbstractBaseUser, action: AuditAction, job: Job, detail: str) -> ActionRefused:
    return ActionRefused(detail, _record_on_job(actor, action, job, ok=False, detail=detail))


def _record_on_job(
    actor: AbstractBaseUser, action: AuditAction, job: Job, *, ok: bool, detail: str
) -> AuditEntry:
    result = {"status": job.status, "worker": job.worker, "detail": detail}
    return _record(actor, action, target=f"job {job.pk}", ok=ok, result=result)


def _record(
    actor: AbstractBaseUser, action: AuditAction, *, target: str, ok: bool, result: dict
) -> AuditEntry:
    return AuditEntry.objects.create(
        actor=actor,
        actor_name=actor.get_username(),
        action=action,
        target=target,
        ok=ok,
        result=result,
    )
