"""The one place that decides where models run and in which number format.

torch is imported only when a setting needs it ("auto", "cuda", "mps"), so a CPU-only caller
that names "cpu" pays nothing.
"""

import os
import re

from gpu_engine.types import EngineError

DTYPES = ("fp32", "fp16", "bf16")

# CTranslate2's names for the dtypes above; on CPU faster-whisper runs int8 whatever ASR_DTYPE says,
# because int8 is both the fastest and the most accurate-per-second choice there.
_WHISPER_COMPUTE_TYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}

_CUDA_PATTERN = re.compile(r"^cuda(?::(\d+))?$")


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
