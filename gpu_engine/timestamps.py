"""A clip's text cut into sentences timed by the model's own token times.

FunASR models give one time span per unit of their text: a Chinese character or a word for
Paraformer (`timestamp` alone), a vocabulary piece for SenseVoice (`timestamp` with `words`).
A clip's text is cut after each sentence's closing punctuation (the model's own, or a punctuation
model's), and each sentence runs from its first unit's start to its last unit's end: tighter than
the speech detector's span, which starts early and ends late.
"""

import re
from collections.abc import Sequence

from gpu_engine.clips import Piece, Word

# Units of Paraformer's text, as funasr's sentence_postprocess makes them: each Chinese or
# Japanese character alone, other letters and digits as words (an apostrophe inside one).
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_UNIT = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+(?:'[^\W{_CJK}]+)*")
# Punctuation that closes a sentence, in a unit (SenseVoice's pieces) or after it; a full stop
# only before a space, so that 3.5 stays whole.
_SENTENCE_END = re.compile(r"[。！？；…!?;]|\.\s")
# SentencePiece marks a word's start with this; SenseVoice leaves it on its first piece.
_WORD_START = "\u2581"

# A unit's place in the text (start, end index) and its time (start, end milliseconds).
_Timed = tuple[int, int, float, float]


def timed_sentences(
    text: str, timestamps: Sequence[Sequence[float]], words: Sequence[str] | None = None
) -> list[tuple[Piece, tuple[Word, ...]]] | None:
    """(start s, end s, sentence) pieces of `text`, times from the clip's start, each with its
    timed units; None when the units of `text` and the times given for them do not line up (the
    clip keeps its own span).

    `timestamps` holds a [start ms, end ms] pair per unit; `words` the units themselves where the
    model names them (SenseVoice), otherwise they are read from `text` as Paraformer forms them.
    """
    units = _timed_units(text, timestamps, words)
    if not units:
        return None
    sentences = []
    first = 0  # the index of the sentence's first unit
    for index, unit in enumerate(units):
        last = index + 1 == len(units)
        following = len(text) if last else units[index + 1][0]
        if not last and not _SENTENCE_END.search(text[unit[0] : following]):
            continue
        # The first sentence takes anything before its first unit; each takes its closing marks.
        sentence = text[units[first][0] if first else 0 : following].strip()
        timed = tuple((s / 1000, e / 1000, text[a:b]) for a, b, s, e in units[first : index + 1])
        sentences.append(((units[first][2] / 1000, unit[3] / 1000, sentence), timed))
        first = index + 1
    return sentences


def _timed_units(
    text: str, timestamps: Sequence[Sequence[float]], words: Sequence[str] | None
) -> list[_Timed] | None:
    if words is None:
        spans = unit_spans(text)
    else:
        spans = find_in_order(text, [word.replace(_WORD_START, "") for word in words])
    if spans is None or not spans or len(spans) != len(timestamps):
        return None
    units = [
        (start, end, float(t[0]), float(t[1]))
        for (start, end), t in zip(spans, timestamps, strict=True)
    ]
    if any(unit[2] > unit[3] for unit in units):
        return None
    return units


def unit_spans(text: str) -> list[tuple[int, int]]:
    """Where each unit of `text` (a CJK character, a word) sits in it."""
    return [match.span() for match in _UNIT.finditer(text)]


def find_in_order(text: str, words: Sequence[str]) -> list[tuple[int, int]] | None:
    """Where each of `words` sits in `text`, each after the one before; None if one is missing.
    A blank word takes no room."""
    spans = []
    cursor = 0
    for word in words:
        at = text.find(word, cursor) if word.strip() else cursor
        if at < 0:
            return None
        cursor = at + len(word)
        spans.append((at, cursor))
    return spans
