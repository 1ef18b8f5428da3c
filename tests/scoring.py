"""Corpus-level error rates, scored as tests/data/speech/README.md says: both sides normalised
alike."""

import csv
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import jiwer
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
