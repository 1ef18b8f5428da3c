"""funasr.AutoModel (SenseVoice, Paraformer, ...) on whole clips, a batch per generate() call."""

import functools
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gpu_engine.audio import SAMPLE_RATE
from gpu_engine.clips import ClipResult
from gpu_engine.itn import inverse_normalize
from gpu_engine.presets import NANO_LANGUAGE_NAMES
from gpu_engine.text import chinese_script, model_language
from gpu_engine.timestamps import timed_sentences
from gpu_engine.types import EngineError, JobOptions

# SenseVoice starts its output with tags: language (<|zh|>), emotion, event, ITN. The language is
# kept; all are stripped from the text (funasr's own post-processing turns emotions and events
# into emoji, which have no place in a meeting transcript).
_LANGUAGE_TAG = re.compile(r"<\|(zh|en|yue|ja|ko)\|>")
# Tags, and the "<unk>" a punctuation model writes for a mark it cannot name.
_ANY_TAG = re.compile(r"<\|[^|<>]*\|>|<unk>")
# Model classes that write numbers as digits themselves when asked (use_itn / itn); for the
# others (Paraformer...) the engine applies WeTextProcessing's ITN to their text.
NATIVE_ITN_MODELS = frozenset({"SenseVoiceSmall", "FunASRNano"})


@dataclass(frozen=True, eq=False)
class FunASRClip:
    audio: np.ndarray
    requested: str  # the job's language setting, which decides the script of Chinese text
    itn: bool  # numbers as digits, by the engine (the model's own ITN is in the group)
    # generate()'s options as sorted (name, value) pairs: they apply to a whole call, so they are
    # the group.
    group: tuple[tuple[str, Any], ...]
    # Keep each sentence's token times (for splitting it between speakers).
    words: bool = False

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
        self.family = type(model.model).__name__
        self.native_itn = self.family in NATIVE_ITN_MODELS

    def prepare(self, clip: np.ndarray, options: JobOptions) -> FunASRClip:
        generate_options = self._generate_options(options)
        return FunASRClip(
            audio=clip,
            requested=options.language,
            itn=options.itn and not self.native_itn,
            group=tuple(sorted(generate_options.items())),
            words=options.speakers,
        )

    def _generate_options(self, options: JobOptions) -> dict[str, Any]:
        language = self._told_language(options)
        if self.family == "FunASRNano":
            # Fun-ASR-Nano's own option names: it writes them into its language model's prompt.
            return {
                "language": NANO_LANGUAGE_NAMES.get(language or ""),
                "itn": options.itn,
                "hotwords": options.hotwords,
            }
        return {
            "language": language or "auto",
            "use_itn": options.itn and self.native_itn,
            # Token times (Paraformer, SenseVoice): sentences are timed by them.
            "output_timestamp": True,
            **_hotword_option(options.hotwords),
        }

    def _told_language(self, options: JobOptions) -> str | None:
        """The language code to tell the model, None to let it detect; a language the model has
        no name for fails the job rather than being silently ignored."""
        language = model_language(options.language)
        known = (
            NANO_LANGUAGE_NAMES
            if self.family == "FunASRNano"
            # SenseVoice's language tokens; models without any ignore the option.
            else getattr(self.model.model, "lid_dict", None)
        )
        if language is None or known is None or language in known:
            return language
        codes = ", ".join(code for code in known if code not in ("auto", "nospeech"))
        raise EngineError(
            f"The model {self.preset!r} cannot transcribe {options.language}: choose one of "
            f"{codes}, or automatic detection."
        )

    def recognize_batch(self, clips: Sequence[FunASRClip]) -> list[ClipResult]:
        # FunASR gives a whole input list one key unless a key list is passed; results are
        # matched back by key, because a model drops inputs whose decoding is empty.
        keys = [f"clip{index}" for index in range(len(clips))]
        results = self.model.generate(
            input=[self._model_input(clip.audio) for clip in clips],
            key=keys,
            batch_size=len(clips),
            **dict(clips[0].group),
        )
        by_key = {_key(result["key"]): result for result in results if "key" in result}
        return [
            self.clip_result(by_key.get(key, {}), clip)
            for key, clip in zip(keys, clips, strict=True)
        ]

    def _model_input(self, audio: np.ndarray) -> Any:
        if self.family != "FunASRNano":
            return audio
        import torch

        # Fun-ASR-Nano's chat template takes a file path or a tensor; a NumPy array becomes None.
        return torch.from_numpy(audio)

    @staticmethod
    def clip_result(result: dict[str, Any], clip: FunASRClip) -> ClipResult:
        """The clip's sentences timed by the model's token times where it gives them (otherwise
        its text spans the clip), without tags, numbers as digits if asked, in the script asked
        for; with their tokens' times when the clip asked for words."""
        raw = result.get("text", "")
        tag = _LANGUAGE_TAG.search(raw)
        language = model_language(clip.requested) or (tag.group(1) if tag else "")
        text = " ".join(_ANY_TAG.sub(" ", raw).split())
        sentences = timed_sentences(text, *_token_times(result))
        pieces, words = [], []
        for (start, end, sentence), tokens in sentences or [((0.0, clip.seconds, text), ())]:
            if clip.itn:
                sentence = inverse_normalize(sentence, language)
            sentence = chinese_script(sentence, language=language, requested=clip.requested)
            if not sentence:
                continue
            pieces.append((start, end, sentence))
            if clip.words:
                script = functools.partial(
                    chinese_script, language=language, requested=clip.requested
                )
                words.append(tuple((s, e, script(token)) for s, e, token in tokens))
        return ClipResult(language=language, pieces=pieces, words=words if any(words) else [])


def _token_times(result: dict[str, Any]) -> tuple[list[list[float]], list[str] | None]:
    """[start ms, end ms] per unit of the text, and the units where the model names them.

    Paraformer gives `timestamp`, SenseVoice `timestamp` and `words`; Fun-ASR-Nano (with its CTC
    decoder) gives `timestamps`, each naming its token, in seconds.
    """
    if "timestamps" in result:
        tokens = result["timestamps"]
        times = [[token["start_time"] * 1000, token["end_time"] * 1000] for token in tokens]
        return times, [token["token"] for token in tokens]
    return result.get("timestamp") or [], result.get("words")


def _key(key: Any) -> str:
    # A one-clip call comes back with its key in a list.
    return key[0] if isinstance(key, list | tuple) else key


def _hotword_option(hotwords: tuple[str, ...]) -> dict[str, str]:
    """SeACo/contextual Paraformer's `hotword` option (other FunASR models ignore it).

    FunASR reads a hotword string that names an existing file, and fetches one that is a URL, so
    such a string is never passed.
    """
    joined = " ".join(hotwords)
    if not joined or os.path.exists(joined) or joined.startswith(("http://", "https://")):
        return {}
    return {"hotword": joined}
