"""What a worker holds in memory, steered by an operator: a model loaded ahead of its first job or
unloaded, and torch's cached GPU memory handed back to the driver. Called by the worker's
remote-control commands (operations.control), in the process where its models live."""

import gc

from gpu_engine.backends import backend_for, preset_source
from gpu_engine.batcher import batcher_close
from gpu_engine.device import empty_gpu_cache
from gpu_engine.models import unload
from gpu_engine.stages import Stage
from gpu_engine.types import EngineConfig


def load_model(preset: str, config: EngineConfig) -> None:
    """Load `preset` as its first job would (downloading it if need be); ModelUnavailableError
    with the reason when it cannot be."""
    backend_for(preset, config, _no_progress)


def unload_model(preset: str, config: EngineConfig) -> int:
    """Forget `preset`'s model and stop its batcher, then free the memory they held; how many
    models went (0: it was not loaded). A job still using it would keep it: the caller makes
    sure none is running."""
    models = unload(preset_source(preset, config))
    for model in models:
        batcher_close(model)
    count = len(models)
    del models  # the last references: the cache's and the batchers' are gone
    clear_gpu_cache()
    return count


def clear_gpu_cache() -> list[dict[str, int]]:
    """Collect the garbage first (tensors only reference cycles still hold: a failed batch's
    traceback, a cancelled job's frames), then hand torch's cached CUDA memory back to the
    driver; per GPU, the bytes freed ([] without CUDA)."""
    gc.collect()
    return empty_gpu_cache()


def _no_progress(stage: Stage, percent: float, message: str = "") -> None:
    """Loading ahead of use has no job to report a download's progress to."""
