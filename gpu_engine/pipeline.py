"""One file from path to timed text: model, decoding, speech detection, recognition."""

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gpu_engine.audio import SAMPLE_RATE, decode_audio
from gpu_engine.backends import RecognitionBackend, backend_for
from gpu_engine.batcher import Batcher, batcher_for
from gpu_engine.clips import ClipResult
from gpu_engine.diarization import diarize
from gpu_engine.speakers import assign_speakers
from gpu_engine.stages import Stage
from gpu_engine.types import (
    CancelCheck,
    EngineConfig,
    JobCancelled,
    JobOptions,
    ProgressCallback,
    TranscribedSegment,
    TranscriptResult,
)
from gpu_engine.vad import Span, detect_speech, detection_processes, plan_segments

# Speech shorter than this is joined to a neighbour: alone it is mostly a breath or a click, and
# recognisers do poorly on fragments.
MIN_SEGMENT_S = 1.0

# Speech this far from any text a packed clip produced was skipped by the model (Whisper can close
# a window after its first sentence): it is decoded again on its own. Whisper's timestamps drift
# by well under this, so text it did produce is not decoded twice.
SKIP_TOLERANCE_S = 1.0

# Where stages start on the job's 0-100 progress scale (those between: ProgressShares).
_SEGMENTING_AT = 5.0
_TRANSCRIBING_FROM = 10.0
_FINALIZING_AT = 95.0


@dataclass(frozen=True)
class ProgressShares:
    """Where recognition's retries and diarization start on the job's 0-100 progress scale:
    recognition fills its share as its clips finish, its retries theirs."""

    retrying_from: float
    diarizing_from: float  # where recognition ends: _FINALIZING_AT when not diarizing


_WITHOUT_SPEAKERS = ProgressShares(retrying_from=90.0, diarizing_from=_FINALIZING_AT)
# Diarization embeds the speech once more, on the worker's CPU or GPU.
_WITH_SPEAKERS = ProgressShares(retrying_from=75.0, diarizing_from=80.0)


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
    on_progress(Stage.DECODING, 0.0, "Decoding the audio")
    audio = decode_audio(path, max_seconds=config.max_audio_s)
    duration = len(audio) / SAMPLE_RATE
    if should_cancel():
        raise JobCancelled()
    on_progress(Stage.SEGMENTING, _SEGMENTING_AT, "Finding speech")
    spans = detect_speech(
        audio,
        threads=config.cpu_threads,
        processes=detection_processes(config.vad_processes),
    )
    clips = plan_segments(
        spans,
        max_segment_s=min(config.max_segment_s, backend.max_clip_s),
        merge_up_to_s=backend.pack_seconds,
        min_segment_s=MIN_SEGMENT_S,
    )
    shares = _WITH_SPEAKERS if options.speakers else _WITHOUT_SPEAKERS
    stages = Stages(on_progress, should_cancel)
    results = stages.recognize(
        backend, batcher, audio, clips, options, (_TRANSCRIBING_FROM, shares.retrying_from)
    )
    retries = _skipped_speech(clips, results, spans)
    while retries:
        retried = stages.recognize(
            backend, batcher, audio, retries, options, (shares.retrying_from, shares.diarizing_from)
        )
        clips, results = clips + retries, results + retried
        retries = _skipped_speech(retries, retried, spans)
    segments = _absolute_segments(clips, results, duration)
    if options.speakers:
        on_progress(Stage.DIARIZING, shares.diarizing_from, "Identifying speakers")
        turns = diarize(
            audio,
            spans,
            num_speakers=options.num_speakers,
            min_speakers=options.min_speakers,
            max_speakers=options.max_speakers,
            method=config.speaker_model,
            config=config,
            should_cancel=should_cancel,
            # A first use of CAM++ downloads it: reported where diarizing stands, not from 0.
            on_progress=lambda stage, _, message: on_progress(
                stage, shares.diarizing_from, message
            ),
        )
        segments = assign_speakers(segments, turns)
    on_progress(Stage.FINALIZING, _FINALIZING_AT, "Assembling the transcript")
    return TranscriptResult(
        language=_file_language(options, clips, results),
        segments=segments,
        duration_s=duration,
    )


class Stages:
    """The job's side of recognition: its clips go to the batcher, progress comes back as they
    finish, within this stage's share of the 0-100 scale."""

    def __init__(self, on_progress: ProgressCallback, should_cancel: CancelCheck) -> None:
        self.on_progress = on_progress
        self.should_cancel = should_cancel

    def recognize(
        self,
        backend: RecognitionBackend,
        batcher: Batcher,
        audio: np.ndarray,
        clips: list[Span],
        options: JobOptions,
        share: tuple[float, float],
    ) -> list[ClipResult]:
        """Each clip's result, in order, progress rising through `share` (from, to)."""
        prepared = (backend.prepare(_cut(audio, span), options) for span in clips)
        speech = sum(end - start for start, end in clips)
        starting_at, share = share[0], share[1] - share[0]
        done = 0.0
        results: dict[int, ClipResult] = {}
        self.on_progress(Stage.TRANSCRIBING, starting_at, f"0 of {len(clips)} parts")
        for index, result in batcher.results(prepared, should_cancel=self.should_cancel):
            results[index] = result
            start, end = clips[index]
            done += end - start
            self.on_progress(
                Stage.TRANSCRIBING,
                starting_at + share * done / speech,
                f"{len(results)} of {len(clips)} parts",
            )
        return [results[index] for index in range(len(clips))]


def _skipped_speech(clips: list[Span], results: list[ClipResult], spans: list[Span]) -> list[Span]:
    """Speech the VAD found inside a packed clip but no decoded text comes near (Whisper can
    close a window after its first sentence, or pass over one): consecutive skipped spans as
    clips to decode again. Each retry is shorter than its clip, so retrying ends."""
    retries = []
    for (clip_start, clip_end), result in zip(clips, results, strict=True):
        if not result.pieces:
            continue  # silence, or nothing the model could read: a retry would say the same
        decoded = [(clip_start + start, clip_start + end) for start, end, _ in result.pieces]
        inside = [(s, e) for s, e in spans if s >= clip_start and e <= clip_end]
        run: list[Span] = []
        for span in [*inside, None]:
            if span is not None and not _near(span, decoded):
                run.append(span)
                continue
            if run and (run[0][0], run[-1][1]) != (clip_start, clip_end):
                retries.append((run[0][0], run[-1][1]))
            run = []
    return retries


def _near(span: Span, decoded: list[Span]) -> bool:
    start, end = span
    return any(s - SKIP_TOLERANCE_S < end and start < e + SKIP_TOLERANCE_S for s, e in decoded)


def _cut(audio: np.ndarray, span: Span) -> np.ndarray:
    start, end = span
    return audio[round(start * SAMPLE_RATE) : round(end * SAMPLE_RATE)]


def _absolute_segments(
    clips: list[Span], results: list[ClipResult], duration: float
) -> list[TranscribedSegment]:
    """Clip-relative pieces moved to file time, kept inside their clip and the file, in order."""
    segments = []
    for (clip_start, clip_end), result in zip(clips, results, strict=True):
        for index, (start, end, text) in enumerate(result.pieces):
            if not text.strip():
                continue
            start = min(max(clip_start + start, clip_start, 0.0), clip_end, duration)
            end = min(max(clip_start + end, start), clip_end, duration)
            # Words kept inside their segment, so a split between two never leaves it.
            words = tuple(
                (min(max(clip_start + s, start), end), min(max(clip_start + e, start), end), w)
                for s, e, w in result.piece_words(index)
            )
            segments.append(
                TranscribedSegment(start=_ms(start), end=_ms(end), text=text.strip(), words=words)
            )
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
