"""funasr.AutoModel (SenseVoice, Paraformer, ...) on whole clips, a batch per generate() call."""

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gpu_engine.audio import SAMPLE_RATE
from gpu_engine.clips import ClipResult
from gpu_engine.text import chinese_script, model_language
from gpu_engine.types import JobOptions

# SenseVoice starts its output with a language tag such as <|zh|>.
_LANGUAGE_TAG = re.compile(r"<\|(zh|en|yue|ja|ko)\|>")


@dataclass(frozen=True, eq=False)
class FunASRClip:
    audio: np.ndarray
    requested: str  # the job's language setting, which decides the script of Chinese text
    # generate()'s options as sorted (name, value) pairs: they apply to a whole call, so they are
    # the group.
    group: tuple[tuple[str, Any], ...]

    @property
    def seconds(self) -> float:
        return len(self.audio) / SAMPLE_RATE

    @property
    def cost_s(self) -> float:
        # FunASR models take the real length (padded to the batch's longest clip).
        return self.seconds


class FunASRBackend:
    """The text of a clip spans the whole clip."""

    # FunASR models cost what the audio is long, so packing would gain nothing.
    pack_seconds = 0.0
    max_clip_s = math.inf

    def __init__(self, preset: str, model: Any) -> None:  # funasr.AutoModel
        self.preset = preset
        self.model = model

    def prepare(self, clip: np.ndarray, options: JobOptions) -> FunASRClip:
        generate_options = {
            "language": model_language(options.language) or "auto",
            "use_itn": options.itn,
            **_hotword_option(options.hotwords),
        }
        return FunASRClip(
            audio=clip, requested=options.language, group=tuple(sorted(generate_options.items()))
        )

    def recognize_batch(self, clips: Sequence[FunASRClip]) -> list[ClipResult]:
        # FunASR gives a whole input list one key unless a key list is passed; results are
        # matched back by key, because a model drops inputs whose decoding is empty.
        keys = [f"clip{index}" for index in range(len(clips))]
        results = self.model.generate(
            input=[clip.audio for clip in clips],
            key=keys,
            batch_size=len(clips),
            **dict(clips[0].group),
        )
        texts = {result["key"]: result.get("text", "") for result in results if "key" in result}
        return [
            self.clip_result(texts.get(key, ""), clip.seconds, clip.requested)
            for key, clip in zip(keys, clips, strict=True)
        ]

    @staticmethod
    def clip_result(raw: str, seconds: float, requested: str) -> ClipResult:
        """The clip's text without SenseVoice's tags, in the script the job asked for."""
        from funasr.utils.postprocess_utils import rich_transcription_postprocess

        tag = _LANGUAGE_TAG.search(raw)
        language = model_language(requested) or (tag.group(1) if tag else "")
        text = rich_transcription_postprocess(raw).strip()
        text = chinese_script(text, language=language, requested=requested)
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
