"""Whisper on faster-whisper (CTranslate2), a batch of clips per model call.

Built from faster-whisper's own parts as its BatchedInferencePipeline is (features, prompt,
suppressed tokens, split at timestamps), with one prompt per row: clips of different jobs in one
batch keep their own language, or detect it, and their own hotwords. Decoding is beam search at
temperature 0 with no fallback to sampling, so a clip's text does not depend on its batch.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gpu_engine.audio import SAMPLE_RATE
from gpu_engine.clips import ClipResult, Word
from gpu_engine.text import chinese_script, model_language
from gpu_engine.types import EngineError, JobOptions

# Whisper's encoder always takes a 30 s window: shorter clips pay for it anyway.
WINDOW_S = 30.0
BEAM_SIZE = 5
# faster-whisper's defaults: the first timestamp at most 1 s into the window, and a window whose
# no-speech probability is high while its text is improbable counts as silence.
MAX_INITIAL_TIMESTAMP_S = 1.0
NO_SPEECH_THRESHOLD = 0.6
LOG_PROB_THRESHOLD = -1.0
# faster-whisper's defaults for word times: marks joined to the word they follow or precede.
PREPEND_PUNCTUATIONS = "\"'“¿([{-"
APPEND_PUNCTUATIONS = "\"'.。,，!！?？:：”)]}、"


@dataclass(frozen=True, eq=False)
class WhisperClip:
    features: np.ndarray  # log-mel frames of the clip, padded to one window
    seconds: float
    prompt: tuple[int, ...]  # hotwords, then start of transcript, language, task
    language: str  # asked for; a placeholder when detect_language is set
    detect_language: bool
    requested: str  # the job's language setting, which decides the script of Chinese text
    # Where <|startoftranscript|> sits in the prompt: CTranslate2 decodes a batch only when it is
    # at the same place in every row, so it is the group.
    group: int
    # Time each word too (for splitting pieces between speakers): one more pass over the
    # cross-attention, so only when asked.
    words: bool = False

    cost_s = WINDOW_S


class WhisperBackend:
    """Keeps Whisper's own segment times within each clip."""

    pack_seconds = WINDOW_S
    max_clip_s = WINDOW_S

    def __init__(self, preset: str, model: Any) -> None:  # faster_whisper.WhisperModel
        from faster_whisper.transcribe import get_suppressed_tokens

        self.preset = preset
        self.model = model
        self._suppressed = get_suppressed_tokens(self._tokenizer("en"), [-1])

    def prepare(self, clip: np.ndarray, options: JobOptions) -> WhisperClip:
        from faster_whisper.audio import pad_or_trim

        language = model_language(options.language)
        if language is not None and language not in self.model.supported_languages:
            raise EngineError(f"The model {self.preset!r} cannot transcribe {options.language}.")
        detect = language is None and self.model.model.is_multilingual
        # A detected language's token replaces the placeholder's in the batch.
        tokenizer = self._tokenizer(language or "en")
        prompt = self.model.get_prompt(
            tokenizer,
            [],
            without_timestamps=False,
            # faster-whisper gives hotwords to Whisper as a prompt.
            hotwords=" ".join(options.hotwords) or None,
        )
        return WhisperClip(
            # The extractor adds a frame past the end; faster-whisper drops it too.
            features=pad_or_trim(self.model.feature_extractor(clip)[..., :-1]),
            seconds=len(clip) / SAMPLE_RATE,
            prompt=tuple(prompt),
            language=tokenizer.language_code,
            detect_language=detect,
            requested=options.language,
            group=prompt.index(tokenizer.sot),
            words=options.speakers,
        )

    def recognize_batch(self, clips: Sequence[WhisperClip]) -> list[ClipResult]:
        encoded = self.model.encode(np.stack([clip.features for clip in clips]))
        languages = self._languages(encoded, clips)
        results = self.model.model.generate(
            encoded,
            [self._prompt(clip, language) for clip, language in zip(clips, languages, strict=True)],
            beam_size=BEAM_SIZE,
            max_length=self.model.max_length,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self._suppressed,
            max_initial_timestamp_index=round(MAX_INITIAL_TIMESTAMP_S / self.model.time_precision),
        )
        segments = [
            self._segments(clip, language, result)
            for clip, language, result in zip(clips, languages, results, strict=True)
        ]
        words = self._words(clips, languages, encoded, segments)
        return [
            self._clip_result(*row) for row in zip(clips, languages, segments, words, strict=True)
        ]

    def _tokenizer(self, language: str) -> Any:  # faster_whisper.tokenizer.Tokenizer
        from faster_whisper.tokenizer import Tokenizer

        return Tokenizer(
            self.model.hf_tokenizer,
            self.model.model.is_multilingual,
            task="transcribe",
            language=language,
        )

    def _languages(self, encoded: Any, clips: Sequence[WhisperClip]) -> list[str]:
        """Each row's language: the one asked for, or the most likely from its own audio."""
        if not any(clip.detect_language for clip in clips):
            return [clip.language for clip in clips]
        detected = self.model.model.detect_language(encoded)
        # Tokens such as "<|en|>", best first.
        return [
            ranked[0][0][2:-2] if clip.detect_language else clip.language
            for clip, ranked in zip(clips, detected, strict=True)
        ]

    def _prompt(self, clip: WhisperClip, language: str) -> list[int]:
        prompt = list(clip.prompt)
        if clip.detect_language:
            prompt[clip.group + 1] = self._tokenizer(language).language
        return prompt

    def _segments(self, clip: WhisperClip, language: str, result: Any) -> list[dict[str, Any]]:
        """The row's timed segments (start, end, tokens), none when it is silence."""
        tokens = result.sequences_ids[0]
        # scores[0] is the log probability divided by the length (length penalty 1).
        average_log_prob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        if result.no_speech_prob > NO_SPEECH_THRESHOLD and average_log_prob < LOG_PROB_THRESHOLD:
            return []
        return self._split(tokens, language, clip.seconds)

    def _split(self, tokens: list[int], language: str, seconds: float) -> list[dict[str, Any]]:
        """Segments at Whisper's timestamp tokens, as faster-whisper's batched forward()."""
        tokenizer = self._tokenizer(language)
        segments, _, _ = self.model._split_segments_by_timestamps(
            tokenizer=tokenizer,
            tokens=tokens,
            time_offset=0.0,
            segment_size=math.ceil(seconds) * self.model.frames_per_second,
            segment_duration=seconds,
            seek=0,
        )
        # Text after the last closed segment (the window ended mid-sentence) is dropped by the
        # split, where faster-whisper's own loop would decode it again from there; kept instead,
        # running to the clip's end.
        tail = tokens[sum(len(s["tokens"]) for s in segments) :]
        if tokenizer.decode(tail).strip():
            start = segments[-1]["end"] if segments else 0.0
            segments.append({"start": start, "end": seconds, "tokens": tail, "seek": 0})
        return segments

    def _words(
        self,
        clips: Sequence[WhisperClip],
        languages: list[str],
        encoded: Any,
        segments: list[list[dict[str, Any]]],
    ) -> list[list[tuple[Word, ...]]]:
        """Each row's words, per segment, where its clip asked for them: aligned on the
        cross-attention as faster-whisper's word_timestamps, one call per language (the
        alignment's prompt and its word splitting depend on it)."""
        words: list[list[tuple[Word, ...]]] = [[] for _ in clips]
        rows = [i for i, clip in enumerate(clips) if clip.words and segments[i]]
        for language in {languages[i] for i in rows}:
            chosen = [i for i in rows if languages[i] == language]
            # Rows of a part of the batch are encoded again: an encoder output cannot be sliced.
            features = (
                encoded
                if len(chosen) == len(clips)
                else self.model.encode(np.stack([clips[i].features for i in chosen]))
            )
            # Copies: add_word_timestamps also moves each segment's times to its words, and the
            # pieces keep Whisper's own.
            aligned = [[dict(segment) for segment in segments[i]] for i in chosen]
            self.model.add_word_timestamps(
                aligned,
                self._tokenizer(language),
                features,
                [math.ceil(clips[i].seconds) * self.model.frames_per_second for i in chosen],
                PREPEND_PUNCTUATIONS,
                APPEND_PUNCTUATIONS,
                0.0,
            )
            for i, row in zip(chosen, aligned, strict=True):
                words[i] = [
                    tuple((float(w["start"]), float(w["end"]), w["word"]) for w in segment["words"])
                    for segment in row
                ]
        return words

    def _clip_result(
        self,
        clip: WhisperClip,
        language: str,
        segments: list[dict[str, Any]],
        words: list[tuple[Word, ...]],
    ) -> ClipResult:
        tokenizer = self._tokenizer(language)

        def script(text: str) -> str:
            return chinese_script(text, language=language, requested=clip.requested)

        pieces = [(s["start"], s["end"], script(tokenizer.decode(s["tokens"]))) for s in segments]
        timed = [tuple((start, end, script(w)) for start, end, w in row) for row in words]
        return ClipResult(language=language, pieces=pieces, words=timed)
