"""Recognisers behind one interface: clips of 16 kHz audio in, text with clip-relative times out.

The interface takes a list of clips, not a file, so that a batcher can later feed clips from
several jobs in one call (grouped by JobOptions, which is hashable).
"""

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from gpu_engine.audio import SAMPLE_RATE
from gpu_engine.models import load_funasr, load_whisper
from gpu_engine.presets import is_whisper, model_sources
from gpu_engine.text import chinese_script, model_language
from gpu_engine.types import (
    EngineConfig,
    EngineError,
    JobOptions,
    ModelUnavailableError,
    ProgressCallback,
)

# A (start, end, text) piece, times in seconds from the start of its clip.
Piece = tuple[float, float, str]


@dataclass(frozen=True)
class ClipResult:
    language: str  # the clip's language code, "" when the model does not say
    pieces: list[Piece] = field(default_factory=list)


class RecognitionBackend(Protocol):
    # Consecutive speech is packed into clips up to this long (0: no packing); see plan_segments.
    pack_seconds: float

    def recognize(self, clips: Sequence[np.ndarray], options: JobOptions) -> list[ClipResult]:
        """One result per clip, in the order of `clips`."""
        ...


def backend_for(
    preset: str, config: EngineConfig, on_progress: ProgressCallback
) -> RecognitionBackend:
    """The recogniser for `preset`, its model loaded (and downloaded) if this is the first use."""
    source = model_sources(config.model_sources).get(preset)
    if source is None:
        raise ModelUnavailableError(f"Unknown model {preset!r}: this server has no such preset.")
    if is_whisper(preset, source):
        return WhisperBackend(preset, load_whisper(preset, source, config, on_progress))
    return FunASRBackend(load_funasr(preset, source, config, on_progress))


class WhisperBackend:
    """faster-whisper, one clip at a time, keeping Whisper's own segment times."""

    # Whisper's encoder always takes a 30 s window: shorter clips pay for it anyway.
    pack_seconds = 30.0

    def __init__(self, preset: str, model: Any) -> None:
        self.preset = preset
        self.model = model

    def recognize(self, clips: Sequence[np.ndarray], options: JobOptions) -> list[ClipResult]:
        language = model_language(options.language)
        if language is not None and language not in self.model.supported_languages:
            raise EngineError(f"The model {self.preset!r} cannot transcribe {options.language}.")
        return [self._recognize_clip(clip, language, options) for clip in clips]

    def _recognize_clip(
        self, clip: np.ndarray, language: str | None, options: JobOptions
    ) -> ClipResult:
        segments, info = self.model.transcribe(
            clip,
            language=language,
            beam_size=5,
            vad_filter=False,  # the engine's own VAD already cut the clip
            # Conditioning on earlier text can make Whisper loop on repeated speech.
            condition_on_previous_text=False,
            # faster-whisper gives hotwords to Whisper as a prompt.
            hotwords=" ".join(options.hotwords) or None,
        )
        pieces = [
            (
                segment.start,
                segment.end,
                chinese_script(segment.text, language=info.language, requested=options.language),
            )
            for segment in segments
        ]
        return ClipResult(language=info.language, pieces=pieces)


# SenseVoice starts its output with a language tag such as <|zh|>.
_LANGUAGE_TAG = re.compile(r"<\|(zh|en|yue|ja|ko)\|>")


class FunASRBackend:
    """funasr.AutoModel (SenseVoice, Paraformer, ...) on whole clips; the text spans its clip."""

    # FunASR models cost what the audio is long, so packing would gain nothing.
    pack_seconds = 0.0

    def __init__(self, model: Any) -> None:
        self.model = model

    def recognize(self, clips: Sequence[np.ndarray], options: JobOptions) -> list[ClipResult]:
        # One list for one model batch. FunASR gives a whole input list one key unless a key list
        # is passed; results are matched back by key, because a model may drop inputs whose
        # decoding is empty.
        keys = [f"clip{index}" for index in range(len(clips))]
        results = self.model.generate(
            input=list(clips),
            key=keys,
            batch_size=len(clips),
            language=model_language(options.language) or "auto",
            use_itn=options.itn,
            **_hotword_option(options.hotwords),
        )
        texts = {result["key"]: result.get("text", "") for result in results if "key" in result}
        return [
            self._clip_result(texts.get(key, ""), len(clip) / SAMPLE_RATE, options)
            for key, clip in zip(keys, clips, strict=True)
        ]

    @staticmethod
    def _clip_result(raw: str, seconds: float, options: JobOptions) -> ClipResult:
        from funasr.utils.postprocess_utils import rich_transcription_postprocess

        tag = _LANGUAGE_TAG.search(raw)
        language = model_language(options.language) or (tag.group(1) if tag else "")
        text = rich_transcription_postprocess(raw).strip()
        text = chinese_script(text, language=language, requested=options.language)
        return ClipResult(language=language, pieces=[(0.0, seconds, text)] if text else [])


def _hotword_option(hotwords: tuple[str, ...]) -> dict[str, str]:
    """SeACo/contextual Paraformer's `hotword` option (other FunASR models ignore it).

    FunASR reads a hotword string that names an existing file, and fetches one that is a URL, so
    such a string is never passed.
    """
    joined = " ".join(hotwords)
    if not joined or os.path.exists(joined) or joined.startswith(("http://", "https://")):
        return {}
    return {"hotword": joined}
