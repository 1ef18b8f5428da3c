"""The benchmark's file set: the shared clips joined with pauses into 20-180 s single-language
files, built deterministically (seeded) and cached on disk.

File i depends only on (seed, i, max_seconds), so `--files 4` is the first four files of
`--files 40`. Each file is one of three kinds, in the repeating pattern en, zh, en, zh, long:
- "en" / "zh": only referenced clips of that language; its reference is theirs, in order.
- "long": the long unreferenced recording of a language (alternately zh and en) mixed with that
  language's referenced clips; timed but not scored (part of it has no reference).
"""

import json
import os
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from gpu_engine.audio import SAMPLE_RATE, decode_audio
from tests.audio_files import SPEECH_DIR, write_audio
from tests.scoring import references

MIN_FILE_S = 20.0
MAX_FILE_S = 180.0
PAUSE_S = (0.3, 4.0)
# The pauses are not digital zeros: a faint noise floor (about -70 dBFS), as in a real room.
NOISE_FLOOR = 3e-4
PATTERN = ("en", "zh", "en", "zh", "long")
LONG_RECORDINGS = {"zh": "long_pauses_70s.wav", "en": "en_two_cities_44s.wav"}
# A clip does not come back within this many clips of its last use: Whisper tends to drop a
# sentence repeated verbatim inside one 30 s window, and real recordings do not repeat that way.
RECENT = 2
# Bumped whenever the recipe changes, so stale cached files are not reused.
RECIPE = 2


@dataclass(frozen=True)
class BenchFile:
    path: Path
    language: str
    seconds: float
    reference: str | None  # None: timed, not scored
    clips: tuple[str, ...]


def build_file_set(
    cache_dir: Path, count: int, *, seed: int = 7, max_seconds: float = MAX_FILE_S
) -> list[BenchFile]:
    """The first `count` files of the set, built into `cache_dir` unless already there."""
    folder = cache_dir / f"recipe{RECIPE}-seed{seed}-max{max_seconds:g}"
    folder.mkdir(parents=True, exist_ok=True)
    return [_cached_file(folder, index, seed, max_seconds) for index in range(count)]


def _cached_file(folder: Path, index: int, seed: int, max_seconds: float) -> BenchFile:
    kind = PATTERN[index % len(PATTERN)]
    language = kind if kind != "long" else ("zh", "en")[(index // len(PATTERN)) % 2]
    stem = f"{index:03d}-{language}-{'unscored' if kind == 'long' else 'scored'}"
    sidecar = folder / f"{stem}.json"
    if sidecar.is_file():
        return _read_sidecar(sidecar)
    rng = random.Random(f"{seed}-{index}")
    target = rng.uniform(min(MIN_FILE_S, max_seconds / 2), max_seconds)
    samples, clips = _join_clips(rng, language, kind == "long", target, max_seconds)
    reference = None if kind == "long" else _joined_reference(clips, language)
    path = folder / f"{stem}.wav"
    _write_wav(path, samples)
    bench_file = BenchFile(path, language, len(samples) / SAMPLE_RATE, reference, tuple(clips))
    _write_sidecar(sidecar, bench_file)
    return bench_file


def _join_clips(
    rng: random.Random, language: str, with_long: bool, target_s: float, max_s: float
) -> tuple[np.ndarray, list[str]]:
    """Clips of `language` with a pause before each and after the last: at least `target_s`
    long where the clips allow, never longer than `max_s`."""
    pool = _referenced_clips(language)
    pieces = [_pause(rng)]
    length = len(pieces[0])
    clips: list[str] = []
    while length < target_s * SAMPLE_RATE:
        room = (max_s - PAUSE_S[1]) * SAMPLE_RATE - length
        candidates = [c for c in pool if c not in clips[-RECENT:]]
        long = LONG_RECORDINGS[language]
        if with_long and not clips and len(_clip(long)) <= room:
            candidates = [long]  # too long for a smoke run's short files: left out there
        fitting = [c for c in candidates if len(_clip(c)) <= room]
        if not fitting:
            break
        name = rng.choice(fitting)
        clips.append(name)
        pieces += [_clip(name), _pause(rng)]
        length += len(pieces[-2]) + len(pieces[-1])
    return np.concatenate(pieces), clips


def _pause(rng: random.Random) -> np.ndarray:
    seconds = rng.uniform(*PAUSE_S)
    noise = np.random.default_rng(rng.getrandbits(32))
    return (noise.standard_normal(round(seconds * SAMPLE_RATE)) * NOISE_FLOOR).astype(np.float32)


_clip_cache: dict[str, np.ndarray] = {}


def _clip(name: str) -> np.ndarray:
    if name not in _clip_cache:
        _clip_cache[name] = decode_audio(SPEECH_DIR / name, max_seconds=600)
    return _clip_cache[name]


def _referenced_clips(language: str) -> list[str]:
    return sorted(r.file for r in references() if r.language == language)


def _joined_reference(clips: list[str], language: str) -> str:
    texts = {r.file: r.text for r in references()}
    return ("" if language == "zh" else " ").join(texts[name] for name in clips)


def _write_wav(path: Path, samples: np.ndarray) -> None:
    partial = path.with_name(f".{path.name}.partial")
    write_audio(partial, samples, rate=SAMPLE_RATE, container="wav", codec="pcm_s16le")
    os.replace(partial, path)


def _write_sidecar(path: Path, bench_file: BenchFile) -> None:
    record = {**asdict(bench_file), "path": bench_file.path.name}
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(record, ensure_ascii=False, indent=1))
    os.replace(partial, path)


def _read_sidecar(path: Path) -> BenchFile:
    record = json.loads(path.read_text())
    return BenchFile(
        path=path.parent / record["path"],
        language=record["language"],
        seconds=record["seconds"],
        reference=record["reference"],
        clips=tuple(record["clips"]),
    )


def describe(files: list[BenchFile]) -> str:
    """One line: how many files of each kind, their total and range of lengths."""
    scored = {
        lang: [f for f in files if f.reference is not None and f.language == lang]
        for lang in ("en", "zh")
    }
    unscored = [f for f in files if f.reference is None]
    lengths = [f.seconds for f in files]
    return (
        f"{len(files)} files, {sum(lengths):.0f} s of audio ({min(lengths):.0f}-{max(lengths):.0f}"
        f" s each): {len(scored['en'])} en scored, {len(scored['zh'])} zh scored, "
        f"{len(unscored)} unscored (long recordings mixed in)"
    )
