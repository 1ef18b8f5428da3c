"""One file from path to timed text: model, decoding, speech detection, recognition."""

import math
from collections import Counter
from pathlib import Path

import numpy as np

from gpu_engine.audio import SAMPLE_RATE, decode_audio
from gpu_engine.backends import RecognitionBackend, backend_for
from gpu_engine.batcher import Batcher, batcher_for
from gpu_engine.clips import ClipResult
from gpu_engine.types import (
    CancelCheck,
    EngineConfig,
    JobCancelled,
    JobOptions,
    ProgressCallback,
    TranscribedSegment,
    TranscriptResult,
)
from gpu_engine.vad import Span, detect_speech, plan_segments

# Speech shorter than this is joined to a neighbour: alone it is mostly a breath or a click, and
# recognisers do poorly on fragments.
MIN_SEGMENT_S = 1.0

# Where each stage starts on the job's 0-100 progress scale; transcribing fills the rest.
_SEGMENTING_AT = 5.0
_TRANSCRIBING_FROM = 10.0
_FINALIZING_AT = 95.0


def transcribe_file(
    path: Path,
    options: JobOptions,
    config: EngineConfig,
    *,
    on_progress: ProgressCallback,
    should_cancel: CancelCheck,
) -> TranscriptResult:
    """Transcribe `path` with the preset `options.model`, reporting stages through `on_progress`
    and stopping with JobCancelled between clips once `should_cancel()` says so.

    Runs in the caller's thread except for the model itself: the clips go to the model's batcher,
    shared with the other jobs of this process.
    """
    backend = backend_for(options.model, config, on_progress)
    batcher = batcher_for(backend, config)
    on_progress("decoding", 0.0, "Decoding the audio")
    audio = decode_audio(path, max_seconds=config.max_audio_s)
    duration = len(audio) / SAMPLE_RATE
    if should_cancel():
        raise JobCancelled()
    on_progress("segmenting", _SEGMENTING_AT, "Finding speech")
    clips = plan_segments(
        detect_speech(audio, threads=config.cpu_threads),
        max_segment_s=min(config.max_segment_s, backend.max_clip_s),
        merge_up_to_s=backend.pack_seconds,
        min_segment_s=MIN_SEGMENT_S,
    )
    results = _recognize(backend, batcher, audio, clips, options, on_progress, should_cancel)
    on_progress("finalizing", _FINALIZING_AT, "Assembling the transcript")
    return TranscriptResult(
        language=_file_language(options, clips, results),
        segments=_absolute_segments(clips, results, duration),
        duration_s=duration,
    )


def _recognize(
    backend: RecognitionBackend,
    batcher: Batcher,
    audio: np.ndarray,
    clips: list[Span],
    options: JobOptions,
    on_progress: ProgressCallback,
    should_cancel: CancelCheck,
) -> list[ClipResult]:
    """Each clip's result, in order; progress advances as this job's clips finish."""
    prepared = (backend.prepare(_cut(audio, span), options) for span in clips)
    speech = sum(end - start for start, end in clips)
    done = 0.0
    results: dict[int, ClipResult] = {}
    on_progress("transcribing", _TRANSCRIBING_FROM, f"0 of {len(clips)} parts")
    for index, result in batcher.results(prepared, should_cancel=should_cancel):
        results[index] = result
        start, end = clips[index]
        done += end - start
        percent = _TRANSCRIBING_FROM + (_FINALIZING_AT - _TRANSCRIBING_FROM) * done / speech
        on_progress("transcribing", percent, f"{len(results)} of {len(clips)} parts")
    return [results[index] for index in range(len(clips))]


def _cut(audio: np.ndarray, span: Span) -> np.ndarray:
    start, end = span
    return audio[round(start * SAMPLE_RATE) : round(end * SAMPLE_RATE)]


def _absolute_segments(
    clips: list[Span], results: list[ClipResult], duration: float
) -> list[TranscribedSegment]:
    """Clip-relative pieces moved to file time, kept inside their clip and the file, in order."""
    segments = []
    for (clip_start, clip_end), result in zip(clips, results, strict=True):
        for start, end, text in result.pieces:
            if not text.strip():
                continue
            start = min(max(clip_start + start, clip_start, 0.0), clip_end, duration)
            end = min(max(clip_start + end, start), clip_end, duration)
            segments.append(TranscribedSegment(start=_ms(start), end=_ms(end), text=text.strip()))
    return sorted(segments, key=lambda segment: (segment.start, segment.end))


def _ms(seconds: float) -> float:
    # Down to whole milliseconds, so a clamped end never rounds past the file's end; the epsilon
    # keeps 2.34 (2339.9999... ms in binary) at 2.34.
    return math.floor(seconds * 1000 + 1e-6) / 1000


def _file_language(options: JobOptions, clips: list[Span], results: list[ClipResult]) -> str:
    """The language asked for, else the one detected over the most speech ("" if none was)."""
    if options.language != "auto":
        return options.language
    seconds: Counter[str] = Counter()
    for (start, end), result in zip(clips, results, strict=True):
        if result.language:
            seconds[result.language] += end - start
    return seconds.most_common(1)[0][0] if seconds else ""
