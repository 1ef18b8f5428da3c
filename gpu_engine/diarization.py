"""Who spoke when: speaker embeddings over the speech the VAD found, clustered into speakers.

The default method needs no download: Resemblyzer's voice encoder, whose wheel ships its weights.
"campplus" uses FunASR's CAM++ speaker model from the model hub, downloaded on first use like the
hub's recognition models. Either way, short windows of speech are embedded, the windows are
clustered (the number of speakers found from the distances unless given), and the window labels
are smoothed into turns inside each speech span.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from gpu_engine import models
from gpu_engine.packets import SAMPLE_RATE
from gpu_engine.types import (
    EngineConfig,
    EngineError,
    JobCancelled,
    ModelUnavailableError,
    ProgressCallback,
)

Span = tuple[float, float]

METHODS = ("resemblyzer", "campplus")
# ASR_MODEL_SOURCES may name another source for it under this name (a local folder, say).
CAMPPLUS_PRESET = "campplus"
CAMPPLUS_SOURCE = "iic/speech_campplus_sv_zh-cn_16k-common"
# The most speakers found automatically (the portal validates 1..20 as the user's bounds).
MAX_SPEAKERS = 20

# Each window's embedding says who speaks in it; windows overlap by half, so a turn change is
# placed to within about HOP_S. Resemblyzer was trained on 1.6 s partial utterances.
WINDOW_S = 1.5
HOP_S = 0.75
# Speech shorter than this is not embedded (too little voice to tell speakers apart): it takes
# the speaker of the nearest turn.
MIN_EMBED_S = 0.5
# Windows embedded per model call, and so between two looks at should_cancel.
EMBED_BATCH = 64
# Average linkage keeps every pairwise distance: 2000 windows (25 min of speech) take 32 MB and
# about a second; a longer recording's other windows join the centre nearest them.
MAX_CLUSTERED = 2000
# Clusters of windows further apart than this (average cosine distance) are different speakers.
DISTANCE_THRESHOLD = 0.45
# A cluster of fewer windows than this is one speaker's odd window, not a speaker of its own
# (when the count is found automatically): it joins the nearest cluster.
MIN_CLUSTER_WINDOWS = 3
# A run of windows shorter than this inside a span joins its neighbour: speakers rarely hold the
# floor for less, and a lone window is more often a noisy embedding.
MIN_TURN_S = 1.0


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    speaker: str


@dataclass(frozen=True)
class _Window:
    start: float
    end: float
    span: int  # index of the speech span it lies in


def diarize(
    audio: np.ndarray,
    speech: list[Span],
    *,
    num_speakers: int | None = None,
    min_speakers: int | None = None,
    max_speakers: int | None = None,
    method: str = "resemblyzer",
    config: EngineConfig | None = None,
    should_cancel: Callable[[], bool] | None = None,
    on_progress: ProgressCallback | None = None,
) -> list[Turn]:
    """Speaker turns over `speech` (the VAD's spans, seconds) of 16 kHz mono `audio`: sorted, not
    overlapping, labelled S1, S2, ... in order of first appearance.

    `num_speakers` fixes the count; otherwise it is found from the embeddings, kept within
    `min_speakers`..`max_speakers`. Raises JobCancelled between chunks of work once
    `should_cancel()` says so, ModelUnavailableError when the method's model cannot be had.
    `on_progress` hears of a model download (CAM++'s first use), as recognition's loaders report
    theirs. Spans past the end of `audio` are cut to it.
    """
    if method not in METHODS:
        raise EngineError(f"Unknown speaker method {method!r}: use {' or '.join(METHODS)}.")
    cancelled = should_cancel or (lambda: False)
    spans = _speech_in(speech, len(audio) / SAMPLE_RATE)
    windows = _windows(spans)
    if not windows:
        return _label([(start, end, 0) for start, end in spans])
    embed = _embedder(method, config, on_progress or (lambda *_: None))
    embeddings = np.concatenate(list(_embed_in_batches(embed, audio, spans, windows, cancelled)))
    low, high = _bounds(num_speakers, min_speakers, max_speakers, len(windows))
    labels = _cluster(embeddings, low, high)
    return _label(_turns(spans, windows, labels))


def _speech_in(speech: list[Span], duration: float) -> list[Span]:
    """The spans in order, cut to the audio's length, overlapping ones joined, empty ones gone."""
    spans: list[Span] = []
    for start, end in sorted(speech):
        end = min(end, duration)
        if end <= start:
            continue
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans


def _bounds(num: int | None, low: int | None, high: int | None, windows: int) -> tuple[int, int]:
    """The fewest and most speakers allowed, never more than there are windows."""
    if num is not None:
        low = high = num
    high = min(high or MAX_SPEAKERS, windows)
    return min(low or 1, high), high


# --- windows and embeddings ---


def _windows(spans: list[Span]) -> list[_Window]:
    """Windows of WINDOW_S every HOP_S covering each span, the last one ending at the span's end;
    a span shorter than a window is one window of its own length, or none if shorter than
    MIN_EMBED_S."""
    windows = []
    for index, (start, end) in enumerate(spans):
        if end - start < MIN_EMBED_S:
            continue
        if end - start <= WINDOW_S:
            windows.append(_Window(start, end, index))
            continue
        count = int(np.ceil((end - start - WINDOW_S) / HOP_S)) + 1
        for step in range(count):
            first = min(start + step * HOP_S, end - WINDOW_S)
            windows.append(_Window(first, first + WINDOW_S, index))
    return windows


# (audio, spans, a batch of windows) -> one embedding per window.
Embedder = Callable[[np.ndarray, list[Span], list[_Window]], np.ndarray]


def _embed_in_batches(
    embed: Embedder,
    audio: np.ndarray,
    spans: list[Span],
    windows: list[_Window],
    cancelled: Callable[[], bool],
) -> Iterator[np.ndarray]:
    """Unit-length embeddings of the windows, in order, a batch at a time."""
    for first in range(0, len(windows), EMBED_BATCH):
        if cancelled():
            raise JobCancelled()
        # Resemblyzer's embedding of digital silence divides zero by zero.
        vectors = np.nan_to_num(embed(audio, spans, windows[first : first + EMBED_BATCH]))
        yield vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


def _samples(audio: np.ndarray, start: float, end: float) -> np.ndarray:
    return np.asarray(audio[round(start * SAMPLE_RATE) : round(end * SAMPLE_RATE)])


def _embedder(method: str, config: EngineConfig | None, on_progress: ProgressCallback) -> Embedder:
    if method == "campplus":
        if config is None:
            raise ModelUnavailableError("The CAM++ speaker model needs the engine's settings.")
        source = config.model_sources.get(CAMPPLUS_PRESET, CAMPPLUS_SOURCE)
        return _campplus_embedder(models.load_funasr(CAMPPLUS_PRESET, source, config, on_progress))
    return _resemblyzer_embedder(models.load_voice_encoder(config))


def _resemblyzer_embedder(encoder: Any) -> Embedder:  # resemblyzer.VoiceEncoder
    import torch
    from resemblyzer.audio import normalize_volume, wav_to_mel_spectrogram
    from resemblyzer.hparams import audio_norm_target_dBFS, mel_window_step

    frame_s = mel_window_step / 1000
    # The mel frames of the span being embedded: computed once for its overlapping windows.
    current: dict[int, np.ndarray] = {}

    def span_mel(audio: np.ndarray, spans: list[Span], index: int) -> np.ndarray:
        if index not in current:
            current.clear()
            samples = _samples(audio, *spans[index])
            if np.any(samples):  # digital silence cannot be made louder (0 dBFS is -inf)
                samples = normalize_volume(samples, audio_norm_target_dBFS, increase_only=True)
            current[index] = wav_to_mel_spectrogram(samples)
        return current[index]

    def embed_equal(mels: list[np.ndarray]) -> np.ndarray:
        with torch.no_grad():
            return encoder(torch.from_numpy(np.stack(mels)).to(encoder.device)).cpu().numpy()

    def embed(audio: np.ndarray, spans: list[Span], batch: list[_Window]) -> np.ndarray:
        mels = []
        for window in batch:
            first = round((window.start - spans[window.span][0]) / frame_s)
            frames = round((window.end - window.start) / frame_s)
            mels.append(span_mel(audio, spans, window.span)[first : first + frames])
        return _by_length(mels, embed_equal)

    return embed


def _campplus_embedder(model: Any) -> Embedder:  # funasr.AutoModel
    def embed_equal(pieces: list[np.ndarray]) -> np.ndarray:
        results = model.generate(input=pieces, batch_size=len(pieces))
        # One result for the batch, (windows, dimensions); one per window without batching.
        return np.concatenate(
            [r["spk_embedding"].cpu().numpy().reshape(len(r["spk_embedding"]), -1) for r in results]
        )

    def embed(audio: np.ndarray, spans: list[Span], batch: list[_Window]) -> np.ndarray:
        return _by_length([_samples(audio, w.start, w.end) for w in batch], embed_equal)

    return embed


def _by_length(
    pieces: list[np.ndarray], embed_equal: Callable[[list[np.ndarray]], np.ndarray]
) -> np.ndarray:
    """Each piece's embedding, pieces of one length embedded together: a batch of unequal ones
    would be padded, and the model would embed the padding too (a span shorter than a window
    goes alone)."""
    vectors: list[np.ndarray] = [np.empty(0)] * len(pieces)
    for length in sorted({len(piece) for piece in pieces}):
        chosen = [i for i, piece in enumerate(pieces) if len(piece) == length]
        for i, vector in zip(chosen, embed_equal([pieces[i] for i in chosen]), strict=True):
            vectors[i] = vector
    return np.stack(vectors)


# --- clustering ---


def _cluster(embeddings: np.ndarray, low: int, high: int) -> np.ndarray:
    """A speaker index for each window: agglomerative clustering on cosine distance, average
    linkage, cut at DISTANCE_THRESHOLD and kept within low..high clusters, then each window moved
    to its nearest cluster centre. Past MAX_CLUSTERED windows, evenly spaced ones are clustered
    and the rest join their nearest centre."""
    if len(embeddings) == 1:
        return np.zeros(1, dtype=int)
    sample = embeddings
    if len(embeddings) > MAX_CLUSTERED:
        sample = embeddings[np.linspace(0, len(embeddings) - 1, MAX_CLUSTERED).astype(int)]
    if low == high:
        labels = _agglomerate(sample, clusters=low)
    else:
        labels = _absorb_small(sample, _agglomerate(sample), low)
        count = len(set(labels))
        if not low <= count <= high:
            labels = _agglomerate(sample, clusters=min(max(count, low), high))
    nearest = _nearest_centre(embeddings, _centres(sample, labels))
    # Moving windows can empty a cluster: the count asked for wins over the refinement.
    return nearest if len(set(nearest)) >= low or sample is not embeddings else labels


def _agglomerate(embeddings: np.ndarray, clusters: int | None = None) -> np.ndarray:
    """`clusters` clusters, or as many as DISTANCE_THRESHOLD cuts."""
    from sklearn.cluster import AgglomerativeClustering

    threshold = None if clusters else DISTANCE_THRESHOLD
    return AgglomerativeClustering(
        n_clusters=clusters, metric="cosine", linkage="average", distance_threshold=threshold
    ).fit_predict(embeddings)


def _absorb_small(embeddings: np.ndarray, labels: np.ndarray, low: int) -> np.ndarray:
    """Clusters of fewer than MIN_CLUSTER_WINDOWS windows joined to the nearest big cluster, while
    more than `low` clusters remain."""
    labels = labels.copy()
    sizes = np.bincount(labels)
    big = [c for c in range(len(sizes)) if sizes[c] >= MIN_CLUSTER_WINDOWS]
    if not big:
        return labels
    centres = {c: _centre(embeddings[labels == c]) for c in big}
    for small in sorted(c for c in range(len(sizes)) if sizes[c] and c not in big):
        if len(set(labels)) <= low:
            break
        members = labels == small
        mean = _centre(embeddings[members])
        labels[members] = max(big, key=lambda c: float(mean @ centres[c]))
    return labels


def _centres(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return np.stack([_centre(embeddings[labels == c]) for c in sorted(set(labels))])


def _nearest_centre(embeddings: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return np.argmax(embeddings @ centres.T, axis=1)


def _centre(vectors: np.ndarray) -> np.ndarray:
    mean = vectors.mean(axis=0)
    return mean / max(float(np.linalg.norm(mean)), 1e-9)


# --- turns ---


def _turns(
    spans: list[Span], windows: list[_Window], labels: np.ndarray
) -> list[tuple[float, float, int]]:
    """(start, end, speaker index) over every span: inside a span, the change from one window's
    speaker to the next's is placed halfway between their centres; runs shorter than MIN_TURN_S
    join a neighbour; spans without windows take the nearest turn's speaker."""
    by_span: dict[int, list[int]] = {}
    for index, window in enumerate(windows):
        by_span.setdefault(window.span, []).append(index)
    turns: list[tuple[float, float, int]] = []
    for index, (start, end) in enumerate(spans):
        members = by_span.get(index)
        if members is None:
            turns.append((start, end, -1))
            continue
        turns += _span_turns(start, end, [windows[i] for i in members], list(labels[members]))
    return _fill_unlabelled(turns)


def _span_turns(
    start: float, end: float, windows: list[_Window], labels: list[int]
) -> list[tuple[float, float, int]]:
    runs: list[list] = []  # [start, end, speaker]
    for position, (window, label) in enumerate(zip(windows, labels, strict=True)):
        cut = end
        if position + 1 < len(windows):
            following = windows[position + 1]
            cut = (window.start + window.end + following.start + following.end) / 4
        if runs and runs[-1][2] == label:
            runs[-1][1] = cut
        else:
            runs.append([runs[-1][1] if runs else start, cut, label])
    while len(runs) > 1:
        shortest = min(range(len(runs)), key=lambda i: runs[i][1] - runs[i][0])
        if runs[shortest][1] - runs[shortest][0] >= MIN_TURN_S:
            break
        _join_neighbour(runs, shortest)
    return [(a, b, label) for a, b, label in runs]


def _join_neighbour(runs: list[list], index: int) -> None:
    """Give run `index` to its longer neighbour (merging the neighbours if they are one speaker)."""
    before = runs[index - 1] if index > 0 else None
    after = runs[index + 1] if index + 1 < len(runs) else None
    if after is None or (before is not None and before[1] - before[0] >= after[1] - after[0]):
        before[1] = runs[index][1]
    else:
        after[0] = runs[index][0]
    del runs[index]
    for position in range(len(runs) - 1, 0, -1):
        if runs[position][2] == runs[position - 1][2]:
            runs[position - 1][1] = runs[position][1]
            del runs[position]


def _fill_unlabelled(turns: list[tuple[float, float, int]]) -> list[tuple[float, float, int]]:
    labelled = [t for t in turns if t[2] >= 0]
    if not labelled:
        return [(a, b, 0) for a, b, _ in turns]
    return [(a, b, label if label >= 0 else _nearest(labelled, a, b)[2]) for a, b, label in turns]


def _nearest(turns: list[tuple[float, float, int]], start: float, end: float) -> tuple:
    return min(turns, key=lambda t: max(t[0] - end, start - t[1], 0.0))


def _label(turns: list[tuple[float, float, int]]) -> list[Turn]:
    """Turns labelled S1, S2, ... in order of first appearance."""
    names: dict[int, str] = {}
    labelled = []
    for start, end, index in turns:
        names.setdefault(index, f"S{len(names) + 1}")
        labelled.append(Turn(start, end, names[index]))
    return labelled
