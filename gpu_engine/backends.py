"""Recognisers behind one interface: clips of 16 kHz audio in, text with clip-relative times out.

A job's thread prepares each clip (checks, features, prompt); the batcher's thread then runs the
prepared clips of many jobs through `recognize_batch` together. Only clips whose `group` is equal
can share a call: they need the same model options or, for Whisper, the same prompt layout.
"""

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from gpu_engine.clips import ClipResult, PreparedClip
from gpu_engine.funasr_backend import FunASRBackend
from gpu_engine.models import load_funasr, load_whisper
from gpu_engine.presets import is_whisper, model_sources, punctuation_source
from gpu_engine.types import EngineConfig, JobOptions, ModelUnavailableError, ProgressCallback
from gpu_engine.whisper_backend import WhisperBackend


class RecognitionBackend(Protocol):
    preset: str
    # The loaded model, shared by every backend object made for it.
    model: Any
    # Consecutive speech is packed into clips up to this long (0: no packing); see plan_segments.
    pack_seconds: float
    # The longest clip the model takes whole.
    max_clip_s: float

    def prepare(self, clip: np.ndarray, options: JobOptions) -> PreparedClip:
        """Check `options` and turn `clip` into the model's input; runs in the job's thread."""
        ...

    def recognize_batch(self, clips: Sequence[Any]) -> list[ClipResult]:
        """One result per clip, in the order of `clips`: clips this backend prepared, all of one
        group. Runs in the batcher's thread."""
        ...


def backend_for(
    preset: str, config: EngineConfig, on_progress: ProgressCallback
) -> RecognitionBackend:
    """The recogniser for `preset`, its model loaded (and downloaded) if this is the first use."""
    source = preset_source(preset, config)
    if is_whisper(preset, source):
        return WhisperBackend(preset, load_whisper(preset, source, config, on_progress))
    punctuation = punctuation_source(preset, config.punctuation_sources)
    model = load_funasr(preset, source, config, on_progress, punctuation=punctuation)
    return FunASRBackend(preset, model)


def preset_source(preset: str, config: EngineConfig) -> str:
    """Where `preset`'s weights come from on this worker."""
    source = model_sources(config.model_sources).get(preset)
    if source is None:
        raise ModelUnavailableError(f"Unknown model {preset!r}: this server has no such preset.")
    return source
