"""The remote-control commands staff send the workers (operations.actions broadcasts them).

Celery runs them in each worker's main process, where with the threads pool its models and their
GPU memory live too, and sends back what they return: every answer is the command's own result,
{"ok": bool, "detail": words for the operator, ...}. Imported by every process (apps.ready), so
that Celery's registry has them in the worker; gpu_engine, which brings torch, is imported inside
the commands only.

Pausing stops the worker consuming the job queue (Celery's own cancel_consumer) while it goes on
with the jobs it holds and with the maintenance queue; a message it was already fetching is
handed back to the broker by kombu. Draining is a pause that reports `drained` once the worker
holds no job any more: the moment to stop it for maintenance.
"""

from enum import StrEnum
from typing import Any

from celery.worker import state as worker_state
from celery.worker.control import add_consumer, cancel_consumer, control_command
from django.conf import settings
from django.db import close_old_connections

from transcription.broker import TRANSCRIBE_TASK
from transcription.models import Job

CLEAR_CACHE = "voxa_clear_cache"
LOAD_MODEL = "voxa_load_model"
UNLOAD_MODEL = "voxa_unload_model"
PAUSE = "voxa_pause"
RESUME = "voxa_resume"
DRAIN = "voxa_drain"

MODEL_ARGUMENT = [("model", str)]


class WorkerState(StrEnum):
    RUNNING = "running"  # takes new jobs
    PAUSED = "paused"  # takes none, finishes those it holds
    DRAINING = "draining"  # paused, and still holds jobs
    DRAINED = "drained"  # paused for maintenance, and holds none: it may be stopped


# This worker's steering, set by the commands below (one worker per process).
_paused = False
_draining = False


def held_jobs() -> list[int]:
    """The jobs whose task this worker holds, running or fetched ahead, by id."""
    requests = list(worker_state.reserved_requests)
    return sorted(int(request.args[0]) for request in requests if request.name == TRANSCRIBE_TASK)


def current_state() -> WorkerState:
    if not _paused:
        return WorkerState.RUNNING
    if not _draining:
        return WorkerState.PAUSED
    return WorkerState.DRAINING if held_jobs() else WorkerState.DRAINED


@control_command(name=PAUSE)
def pause(state: Any, **kwargs: Any) -> dict[str, Any]:
    """Take no new job; finish those held."""
    return _stop_taking_jobs(state, draining=False)


@control_command(name=DRAIN)
def drain(state: Any, **kwargs: Any) -> dict[str, Any]:
    """Pause, and report drained once no job is held."""
    return _stop_taking_jobs(state, draining=True)


@control_command(name=RESUME)
def resume(state: Any, **kwargs: Any) -> dict[str, Any]:
    """Take jobs again after a pause or drain."""
    global _paused, _draining
    add_consumer(state, settings.CELERY_TASK_DEFAULT_QUEUE)
    _paused = _draining = False
    return _steering_answer("running: taking new jobs again")


def _stop_taking_jobs(state: Any, *, draining: bool) -> dict[str, Any]:
    global _paused, _draining
    cancel_consumer(state, settings.CELERY_TASK_DEFAULT_QUEUE)
    _paused, _draining = True, draining
    held = held_jobs()
    if not held:
        doing = "holds no job" + ("; it may be stopped" if draining else "")
    else:
        doing = f"finishing the {len(held)} job(s) it holds"
        if draining:
            doing += ", then drained"
    return _steering_answer(f"{current_state()}: takes no new job, {doing}")


def _steering_answer(detail: str) -> dict[str, Any]:
    return {"ok": True, "state": current_state().value, "held_jobs": held_jobs(), "detail": detail}


@control_command(name=CLEAR_CACHE)
def clear_cache(state: Any, **kwargs: Any) -> dict[str, Any]:
    """Hand torch's cached GPU memory back to the driver."""
    from gpu_engine.device import resolve_device
    from gpu_engine.memory import clear_gpu_cache

    device = resolve_device(settings.ASR_DEVICE)
    if not device.startswith("cuda"):
        return {
            "ok": True,
            "cleared": False,
            "device": device,
            "detail": f"nothing to clear: this worker runs on the {device.upper()}, not CUDA",
        }
    gpus = clear_gpu_cache()
    freed = sum(gpu["freed_bytes"] for gpu in gpus)
    detail = f"freed {freed / 2**20:.0f} MiB of cached GPU memory"
    if not gpus:  # CUDA not used by this process yet: no job, no model loaded
        detail = "nothing to clear: nothing has used the GPU yet"
    return {
        "ok": True,
        "cleared": bool(gpus),
        "device": device,
        "gpus": gpus,
        "freed_bytes": freed,
        "detail": detail,
    }


@control_command(name=LOAD_MODEL, args=MODEL_ARGUMENT, signature="<model>")
def load_model(state: Any, model: str, **kwargs: Any) -> dict[str, Any]:
    """Load a model preset ahead of its first job."""
    from gpu_engine.memory import load_model as load
    from gpu_engine.models import loaded_models
    from gpu_engine.types import EngineError
    from transcription.runner import engine_config

    if model not in settings.ASR_ENABLED_MODELS:
        return _refused(f"{model!r} is not a model this worker offers (ASR_ENABLED_MODELS)")
    try:
        load(model, engine_config())
    except EngineError as error:
        return _refused(str(error))
    return {"ok": True, "loaded_models": loaded_models(), "detail": f"{model} is loaded"}


@control_command(name=UNLOAD_MODEL, args=MODEL_ARGUMENT, signature="<model>")
def unload_model(state: Any, model: str, **kwargs: Any) -> dict[str, Any]:
    """Unload a model preset and free its memory."""
    from gpu_engine.memory import unload_model as unload
    from gpu_engine.models import loaded_models
    from gpu_engine.types import EngineError
    from transcription.runner import engine_config

    # A job using the model would keep it in memory, and the model's batcher is stopped.
    close_old_connections()  # this thread's connection may have been dropped meanwhile
    users = list(Job.objects.filter(pk__in=held_jobs(), model=model).values_list("pk", flat=True))
    if users:
        return _refused(
            f"{model} is in use by job(s) {', '.join(map(str, users))} on this worker: "
            "drain it first, or wait for them to end"
        )
    try:
        unloaded = unload(model, engine_config())
    except EngineError as error:
        return _refused(str(error))
    detail = f"{model} is unloaded" if unloaded else f"{model} was not loaded: nothing to unload"
    return {"ok": True, "loaded_models": loaded_models(), "detail": detail}


def _refused(detail: str) -> dict[str, Any]:
    return {"ok": False, "detail": detail}
