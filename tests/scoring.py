"""Corpus-level error rates, scored as tests/data/speech/README.md says: both sides normalised
alike."""

import csv
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import jiwer
import numpy as np
import zhconv

from tests.audio_files import SPEECH_DIR

DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


@dataclass(frozen=True)
class Reference:
    file: str
    language: str
    text: str

    @property
    def path(self) -> Path:
        return SPEECH_DIR / self.file


def references() -> list[Reference]:
    with (SPEECH_DIR / "manifest.tsv").open(encoding="utf-8") as handle:
        rows = csv.DictReader(handle, delimiter="\t")
        return [Reference(r["file"], r["lang"], r["reference"]) for r in rows]


def _strip_punctuation(text: str) -> str:
    return "".join(" " if unicodedata.category(c).startswith(("P", "S")) else c for c in text)


def normalise_english(text: str) -> str:
    # Whisper writes "one two three" as "1, 2, 3": spell single digits on both sides.
    text = _strip_punctuation(text.lower())
    text = re.sub(r"\d", lambda m: f" {DIGIT_WORDS[int(m.group())]} ", text)
    return " ".join(text.split())


def normalise_mandarin(text: str) -> str:
    return "".join(_strip_punctuation(zhconv.convert(text, "zh-cn")).split())


def corpus_wer(pairs: list[tuple[str, str]]) -> float:
    """pairs of (reference, hypothesis); total edits over total reference words."""
    refs = [normalise_english(r) for r, _ in pairs]
    hyps = [normalise_english(h) for _, h in pairs]
    return jiwer.wer(refs, hyps)


def corpus_cer(pairs: list[tuple[str, str]]) -> float:
    refs = [" ".join(normalise_mandarin(r)) for r, _ in pairs]
    hyps = [" ".join(normalise_mandarin(h)) for _, h in pairs]
    return jiwer.wer(refs, hyps)


# Diarization error rate: md-eval's definition, scored on a 10 ms grid.
DER_FRAME_S = 0.01


def diarization_error_rate(
    reference: list[tuple[float, float, str]],
    hypothesis: list[tuple[float, float, str]],
    *,
    collar: float = 0.25,
) -> float:
    """(missed speech + false alarm + speaker confusion) / reference speech, each turn one
    speaker, no overlaps. Hypothesis labels are mapped to reference labels one to one, the
    mapping that agrees on the most time (scipy's linear_sum_assignment); time within `collar`
    seconds either side of a reference turn's start or end is not scored (md-eval's -c 0.25,
    pyannote.metrics' collar=0.5)."""
    from scipy.optimize import linear_sum_assignment

    end = max(e for _, e, _ in [*reference, *hypothesis])
    frames = int(np.ceil(end / DER_FRAME_S)) + 1
    ref, ref_names = _frame_labels(reference, frames)
    hyp, hyp_names = _frame_labels(hypothesis, frames)
    scored = np.ones(frames, dtype=bool)
    for start, stop, _ in reference:
        for edge in (start, stop):
            scored[_frame(edge - collar) : _frame(edge + collar)] = False
    ref, hyp = ref[scored], hyp[scored]
    total = int(np.sum(ref >= 0))
    missed = int(np.sum((ref >= 0) & (hyp < 0)))
    false_alarm = int(np.sum((ref < 0) & (hyp >= 0)))
    both = (ref >= 0) & (hyp >= 0)
    agreement = np.zeros((len(ref_names), len(hyp_names)), dtype=int)
    np.add.at(agreement, (ref[both], hyp[both]), 1)
    rows, cols = linear_sum_assignment(agreement, maximize=True)
    confusion = int(np.sum(both)) - int(agreement[rows, cols].sum())
    return (missed + false_alarm + confusion) / max(total, 1)


def _frame(seconds: float) -> int:
    return max(round(seconds / DER_FRAME_S), 0)


def _frame_labels(turns: list[tuple[float, float, str]], frames: int) -> tuple[np.ndarray, list]:
    names = sorted({label for _, _, label in turns})
    labels = np.full(frames, -1)
    for start, stop, label in turns:
        labels[_frame(start) : _frame(stop)] = names.index(label)
    return labels, names
