"""The one place that decides where models run and in which number format.

torch is imported only when a setting needs it ("auto", "cuda", "mps"), so a CPU-only caller
that names "cpu" pays nothing.
"""

import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from gpu_engine.types import EngineError

DTYPES = ("fp32", "fp16", "bf16")

# CTranslate2's names for the dtypes above; on CPU faster-whisper runs int8 whatever ASR_DTYPE says,
# because int8 is both the fastest and the most accurate-per-second choice there.
_WHISPER_COMPUTE_TYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}

_CUDA_PATTERN = re.compile(r"^cuda(?::(\d+))?$")

# Default audio seconds per model call. On CPU: 8 Whisper windows, where faster-whisper's batching
# stopped gaining on 2 cores (16 was no faster and holds twice the memory and latency). On CUDA:
# 32 windows; Whisper large-v3 with beam 5 keeps about 1.2 GB of cross-attention cache per clip,
# so 64 would fill an 80 GB GPU. A batch that still runs out of memory is halved and retried.
CPU_BATCH_SECONDS = 240.0
CUDA_BATCH_SECONDS = 960.0


def resolve_device(setting: str) -> str:
    """Turn ASR_DEVICE ("auto", "cpu", "mps", "cuda", "cuda:N") into a device that exists here."""
    if setting == "cpu":
        return "cpu"
    import torch

    if setting == "auto":
        if torch.cuda.is_available():
            return "cuda:0"
        if torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if setting == "mps":
        if not torch.backends.mps.is_available():
            raise EngineError("The device is set to mps, but Apple's MPS is not available here.")
        return "mps"
    match = _CUDA_PATTERN.match(setting)
    if match is None:
        raise EngineError(
            f"Unknown device setting {setting!r}: use auto, cpu, mps, cuda or cuda:N."
        )
    index = int(match.group(1) or 0)
    if not torch.cuda.is_available():
        raise EngineError(f"The device is set to {setting}, but no CUDA GPU is available here.")
    if index >= torch.cuda.device_count():
        raise EngineError(
            f"The device is set to {setting}, but this machine has only "
            f"{torch.cuda.device_count()} CUDA GPU(s)."
        )
    return f"cuda:{index}"


def check_dtype(dtype: str) -> str:
    if dtype not in DTYPES:
        raise EngineError(f"Unknown dtype setting {dtype!r}: use one of {', '.join(DTYPES)}.")
    return dtype


def whisper_device(device: str) -> tuple[str, int]:
    """faster-whisper's (device, device_index); CTranslate2 has no MPS backend, so mps means CPU."""
    if device.startswith("cuda"):
        return "cuda", int(device.partition(":")[2] or 0)
    return "cpu", 0


def whisper_compute_type(device: str, dtype: str) -> str:
    if whisper_device(device)[0] == "cpu":
        return "int8"
    return _WHISPER_COMPUTE_TYPES[check_dtype(dtype)]


def funasr_dtype_options(device: str, dtype: str) -> dict[str, bool]:
    """AutoModel's half-precision switches; half precision is only worth it (and safe) on CUDA."""
    check_dtype(dtype)
    if not device.startswith("cuda") or dtype == "fp32":
        return {}
    return {dtype: True}


def cpu_threads(requested: int) -> int:
    """Threads for CPU inference: the requested count, or every core this process may use."""
    if requested > 0:
        return requested
    # sched_getaffinity honours CPU pinning (containers, taskset); macOS lacks it.
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def batch_seconds(requested: float, device: str) -> float:
    """Audio seconds per model call: the BATCH_SECONDS setting, or the device's default when 0."""
    if requested > 0:
        return requested
    return CUDA_BATCH_SECONDS if device.startswith("cuda") else CPU_BATCH_SECONDS


def clear_cache() -> int:
    """Return torch's cached, unused CUDA memory to the driver; the bytes freed (0 without CUDA)."""
    return sum(gpu["freed_bytes"] for gpu in empty_gpu_cache())


def empty_gpu_cache() -> list[dict[str, int]]:
    """torch's cached, unused CUDA memory back to the driver, GPU by GPU: each one's index and
    the bytes torch held reserved before and after, and so freed; [] without CUDA.

    torch is not imported for this: a process that never imported it holds no torch cache, and
    the web process must stay free of torch. CTranslate2 (Whisper) keeps its own cache, which it
    does not let go of.
    """
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_initialized():
        return []
    gpus = []
    for index in range(torch.cuda.device_count()):
        before = torch.cuda.memory_reserved(index)
        # A GPU this process never allocated on has nothing cached, and selecting it would open
        # a CUDA context there (a few hundred MB of a GPU another worker may use).
        if before:
            with torch.cuda.device(index):
                torch.cuda.empty_cache()
        after = torch.cuda.memory_reserved(index)
        gpus.append(
            {
                "index": index,
                "reserved_before_bytes": before,
                "reserved_after_bytes": after,
                "freed_bytes": before - after,
            }
        )
    return gpus


def device_report(device: str) -> dict[str, object]:
    """The device a worker runs on, for its status: a CUDA GPU's name, index and memory in bytes
    (used, reserved by torch, free, total); "cpu" or "mps" alone otherwise.

    Only the worker's own GPU is read: mem_get_info on another would open a CUDA context there,
    holding a few hundred MB of a GPU another worker may need.
    """
    match = _CUDA_PATTERN.match(device)
    if match is None:
        return {"device": device, "gpus": []}
    import torch

    index = int(match.group(1) or 0)
    free, total = torch.cuda.mem_get_info(index)
    gpu = {
        "index": index,
        "name": torch.cuda.get_device_name(index),
        "used_bytes": total - free,
        "reserved_bytes": torch.cuda.memory_reserved(index),
        "free_bytes": free,
        "total_bytes": total,
    }
    return {"device": device, "gpus": [gpu]}


def describe_device(device: str) -> str:
    """The device as a job's telemetry names it: "cpu", "mps", or "cuda:0 (NVIDIA H200)"."""
    match = _CUDA_PATTERN.match(device)
    if match is None:
        return device
    import torch

    return f"{device} ({torch.cuda.get_device_name(int(match.group(1) or 0))})"


# Jobs being watched per CUDA device index, so that the peak is reset only when none is.
_peak_watchers: dict[int, int] = {}
_peak_lock = threading.Lock()


@contextmanager
def peak_gpu_memory(device: str) -> Iterator[Callable[[], int | None]]:
    """While open, a function giving the peak bytes torch allocated on `device` since the watch
    began; it gives None off CUDA.

    torch keeps one peak per device for the whole process, so the jobs a worker runs at the same
    time share it: a job's figure is the peak since the earliest of the overlapping jobs began,
    the others' memory included. The peak is reset only when no other job is watched, so one
    job's start never erases another's peak. Only torch's allocations count: CTranslate2
    (Whisper) allocates outside torch.
    """
    match = _CUDA_PATTERN.match(device)
    if match is None:
        yield lambda: None
        return
    import torch

    index = int(match.group(1) or 0)
    with _peak_lock:
        if not _peak_watchers.get(index):
            torch.cuda.reset_peak_memory_stats(index)
        _peak_watchers[index] = _peak_watchers.get(index, 0) + 1
    try:
        yield lambda: torch.cuda.max_memory_allocated(index)
    finally:
        with _peak_lock:
            _peak_watchers[index] -= 1
