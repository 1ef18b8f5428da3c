"""Recordings with several speakers, built from the shared clips in tests/data/speech (different
readers and languages), with the reference turns known: for the diarization tests and
bench/diarization.py.

Each file is pieces of clips, each piece one reader, joined with numpy: with pauses of a faint
noise floor between them, or with none. A piece's reference turns are where its samples are
louder than its own peak less REFERENCE_DB and than its noise floor by ABOVE_NOISE_DB (short
gaps bridged), so the reference does not come from the speech detector under test.
"""

from dataclasses import dataclass
from functools import cache

import numpy as np

from gpu_engine.audio import SAMPLE_RATE, decode_audio
from tests.audio_files import speech

# Readers, each a different person (tests/data/speech/README.md).
READERS = {
    "librispeech-1995": "en_librispeech_1995-1837-0001.wav",
    "librispeech-1089": "en_librispeech_1089-134686-0001.wav",
    "warden": "en_two_cities_44s.wav",
    "funasr-example": "zh_funasr_asr_example.wav",
    "funasr-llamacpp": "zh_funasr_llamacpp_sample.wav",
}
# The pauses are not digital zeros: a faint noise floor (about -70 dBFS), as in a real room.
NOISE_FLOOR = 3e-4
FRAME_S = 0.01
# A reference frame (FRAME_S) of speech is at most this far below the piece's loudest ...
REFERENCE_DB = 40.0
# ... and louder than its background noise (its quietest 5% of frames) by this much.
NOISE_PERCENTILE = 5
ABOVE_NOISE_DB = 10.0
# Quieter stretches up to this long inside a piece are one turn (the gaps between words).
BRIDGE_S = 0.3
# Louder blips shorter than this are clicks, or the tail of a word the piece was cut in.
MIN_STRETCH_S = 0.1

# (reader, from s, to s) of its clip, or a pause in seconds (0.0: the next reader starts at once).
Piece = tuple[str, float, float]
RECIPES: dict[str, list[Piece | float]] = {
    # Two readers taking turns, pauses between.
    "two-alternating": [
        ("librispeech-1995", 0.0, 4.4),
        0.8,
        ("librispeech-1089", 0.0, 3.4),
        1.0,
        ("librispeech-1995", 4.4, 8.7),
        0.7,
        ("librispeech-1089", 3.4, 6.6),
    ],
    # One change of reader with no pause at all: the speech detector sees one stretch.
    "two-no-pause": [("warden", 0.0, 11.5), 0.0, ("librispeech-1995", 0.0, 8.7)],
    # A Mandarin reader and an English one.
    "two-zh-en": [
        ("funasr-llamacpp", 0.0, 3.0),
        0.9,
        ("warden", 11.5, 18.0),
        1.2,
        ("funasr-llamacpp", 3.0, 6.0),
        0.8,
        ("warden", 18.0, 24.0),
    ],
    "three": [
        ("librispeech-1995", 0.0, 4.4),
        0.8,
        ("librispeech-1089", 0.0, 3.4),
        0.9,
        ("funasr-example", 0.0, 5.5),
        0.7,
        ("librispeech-1995", 4.4, 8.7),
        1.0,
        ("librispeech-1089", 3.4, 6.6),
    ],
    "one": [("warden", 0.0, 30.0)],
}


@dataclass(frozen=True)
class SpeakerRecording:
    name: str
    audio: np.ndarray  # 16 kHz mono float32
    reference: list[tuple[float, float, str]]  # (start, end, reader)

    @property
    def speakers(self) -> int:
        return len({speaker for _, _, speaker in self.reference})

    @property
    def seconds(self) -> float:
        return len(self.audio) / SAMPLE_RATE


def speaker_recordings() -> list[SpeakerRecording]:
    return [build(name) for name in RECIPES]


def build(name: str) -> SpeakerRecording:
    parts: list[np.ndarray] = []
    reference: list[tuple[float, float, str]] = []
    at = 0.0
    rng = np.random.default_rng(0)
    for item in RECIPES[name]:
        if isinstance(item, float):
            samples = rng.normal(0.0, NOISE_FLOOR, round(item * SAMPLE_RATE))
        else:
            reader, first, last = item
            samples = _trimmed(
                _clip(reader)[round(first * SAMPLE_RATE) : round(last * SAMPLE_RATE)]
            )
            reference += [(at + a, at + b, reader) for a, b in _loud_stretches(samples)]
        parts.append(samples.astype(np.float32))
        at += len(samples) / SAMPLE_RATE
    return SpeakerRecording(name, np.concatenate(parts), reference)


def joined(recordings: list[SpeakerRecording], pause_s: float = 1.0) -> SpeakerRecording:
    """The recordings one after another, `pause_s` apart: a longer file with every reader."""
    noise = np.random.default_rng(1).normal(0.0, NOISE_FLOOR, round(pause_s * SAMPLE_RATE))
    parts, reference, at = [], [], 0.0
    for recording in recordings:
        reference += [(at + a, at + b, speaker) for a, b, speaker in recording.reference]
        parts += [recording.audio, noise.astype(np.float32)]
        at += recording.seconds + pause_s
    return SpeakerRecording("all-joined", np.concatenate(parts[:-1]), reference)


@cache
def _clip(reader: str) -> np.ndarray:
    return decode_audio(speech(READERS[reader]), max_seconds=120)


def _trimmed(samples: np.ndarray) -> np.ndarray:
    """The piece without its quiet start and end, so that "no pause" means none."""
    stretches = _loud_stretches(samples)
    first, last = stretches[0][0], stretches[-1][1]
    return samples[round(first * SAMPLE_RATE) : round(last * SAMPLE_RATE)]


def _loud_stretches(samples: np.ndarray) -> list[tuple[float, float]]:
    frame = round(FRAME_S * SAMPLE_RATE)
    frames = samples[: len(samples) // frame * frame].reshape(-1, frame)
    level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    floor = np.percentile(level, NOISE_PERCENTILE)
    loud = level > max(level.max() - REFERENCE_DB, floor + ABOVE_NOISE_DB)
    stretches: list[list[float]] = []
    for index in np.flatnonzero(loud):
        start = index * FRAME_S
        if stretches and start - stretches[-1][1] <= BRIDGE_S:
            stretches[-1][1] = start + FRAME_S
        else:
            stretches.append([start, start + FRAME_S])
    return [(a, b) for a, b in stretches if b - a >= MIN_STRETCH_S]
