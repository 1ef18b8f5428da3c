import pytest
import torch

from gpu_engine.device import (
    batch_seconds,
    clear_cache,
    cpu_threads,
    empty_gpu_cache,
    funasr_dtype_options,
    resolve_device,
    whisper_compute_type,
    whisper_device,
)
from gpu_engine.types import EngineError

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")


def test_cpu_passes_through() -> None:
    assert resolve_device("cpu") == "cpu"


@no_cuda
def test_auto_falls_back_to_cpu_without_a_gpu() -> None:
    expected = "mps" if torch.backends.mps.is_available() else "cpu"

    assert resolve_device("auto") == expected


@no_cuda
def test_asking_for_a_missing_gpu_says_so() -> None:
    with pytest.raises(EngineError, match="no CUDA GPU is available"):
        resolve_device("cuda:0")


def test_unknown_device_setting_is_rejected() -> None:
    with pytest.raises(EngineError, match="Unknown device setting 'gpu'"):
        resolve_device("gpu")


def test_whisper_runs_int8_on_cpu_and_the_chosen_dtype_on_cuda() -> None:
    assert whisper_compute_type("cpu", "fp16") == "int8"
    assert whisper_compute_type("mps", "fp16") == "int8"
    assert whisper_compute_type("cuda:1", "fp16") == "float16"
    assert whisper_compute_type("cuda:0", "bf16") == "bfloat16"
    assert whisper_compute_type("cuda:0", "fp32") == "float32"
    assert whisper_device("cuda:1") == ("cuda", 1)
    assert whisper_device("mps") == ("cpu", 0)


def test_funasr_uses_half_precision_only_on_cuda() -> None:
    assert funasr_dtype_options("cpu", "fp16") == {}
    assert funasr_dtype_options("cuda:0", "fp16") == {"fp16": True}
    assert funasr_dtype_options("cuda:0", "bf16") == {"bf16": True}
    assert funasr_dtype_options("cuda:0", "fp32") == {}


def test_unknown_dtype_is_rejected() -> None:
    with pytest.raises(EngineError, match="Unknown dtype"):
        whisper_compute_type("cuda:0", "int4")


def test_threads_default_to_every_usable_core() -> None:
    assert cpu_threads(3) == 3
    assert cpu_threads(0) >= 1


def test_batches_default_to_the_device_and_follow_the_setting() -> None:
    assert batch_seconds(0, "cpu") == 240
    assert batch_seconds(0, "mps") == 240
    assert batch_seconds(0, "cuda:0") == 960
    assert batch_seconds(90, "cuda:0") == 90


@no_cuda
def test_clearing_the_cache_without_cuda_frees_nothing() -> None:
    assert clear_cache() == 0


@no_cuda
def test_emptying_the_gpu_cache_without_cuda_reports_no_gpu() -> None:
    assert empty_gpu_cache() == []


@needs_cuda
def test_emptying_the_gpu_cache_hands_back_what_torch_held_unused() -> None:
    block = torch.empty(256 * 2**20, dtype=torch.uint8, device="cuda:0")
    del block  # freed, but kept in torch's cache
    reserved = torch.cuda.memory_reserved(0)

    gpu = empty_gpu_cache()[0]

    assert gpu["index"] == 0
    assert gpu["reserved_before_bytes"] == reserved
    assert gpu["reserved_after_bytes"] == torch.cuda.memory_reserved(0)
    assert gpu["freed_bytes"] == reserved - gpu["reserved_after_bytes"] >= 256 * 2**20
