"""Each segment given to its speaker, a segment that a change of speaker crosses split there.

The diarizer's turns say who spoke when; recognition's segments say what was said. A segment
goes to the speaker whose turns cover most of it; where a turn change falls inside it, it is split
between the words nearest the change (by the model's word or token times), or, without word
times, at the unit (word, CJK character) that falls where the change does in proportion to the
text. So no segment carries two speakers' words.
"""

import dataclasses
import itertools
from collections import Counter
from collections.abc import Sequence

from gpu_engine.diarization import Turn
from gpu_engine.timestamps import find_in_order, unit_spans
from gpu_engine.types import TranscribedSegment

# A diarizer's boundaries are uncertain by about this much: a speaker covering less of a segment
# does not split it off (that time goes to the speakers either side).
MIN_SPEAKER_RUN_S = 0.3


# A speaker over part of a segment: (start, end, label).
_Run = tuple[float, float, str]
# Where a segment's next speaker begins: (character offset in its text, time, label).
_Cut = tuple[int, float, str]


def assign_speakers(
    segments: Sequence[TranscribedSegment], turns: Sequence[Turn]
) -> list[TranscribedSegment]:
    """`segments` with their speakers, split where a turn change crosses one; `turns` sorted and
    non-overlapping. With no turns at all the segments are returned as they are."""
    if not turns:
        return list(segments)
    return [part for segment in segments for part in _split_by_speaker(segment, turns)]


def _split_by_speaker(
    segment: TranscribedSegment, turns: Sequence[Turn]
) -> list[TranscribedSegment]:
    runs = _speaker_runs(segment.start, segment.end, turns)
    if len(runs) == 1:
        return [dataclasses.replace(segment, speaker=runs[0][2])]
    changes = [((before[1] + after[0]) / 2, after[2]) for before, after in itertools.pairwise(runs)]
    first = (0, segment.start, runs[0][2])
    cuts = _word_cuts(segment, changes)
    if cuts is not None:
        return _parts(segment, [first, *cuts])
    parts = _parts(segment, [first, *_proportional_cuts(segment, changes)])
    if len(parts) > 1:
        return parts
    # One untimed word (or character) alone: the line to whoever speaks most of it.
    seconds: Counter[str] = Counter()
    for start, end, speaker in runs:
        seconds[speaker] += end - start
    return [dataclasses.replace(segment, speaker=seconds.most_common(1)[0][0])]


def _speaker_runs(start: float, end: float, turns: Sequence[Turn]) -> list[_Run]:
    """The speakers over [start, end] in order, one run per speaker in a row; a segment in
    the silence between turns goes to the nearest one."""
    inside = [
        (max(t.start, start), min(t.end, end), t.speaker)
        for t in turns
        if t.end > start and t.start < end
    ]
    if not inside:
        nearest = min(turns, key=lambda t: max(t.start - end, start - t.end))
        return [(start, end, nearest.speaker)]
    runs = _merged(inside)
    # The shortest first, so that a short run between two of one speaker joins them.
    while len(runs) > 1:
        shortest = min(runs, key=lambda run: run[1] - run[0])
        if shortest[1] - shortest[0] >= MIN_SPEAKER_RUN_S:
            break
        runs.remove(shortest)
        runs = _merged(runs)
    return runs


def _merged(runs: list[_Run]) -> list[_Run]:
    merged: list[_Run] = []
    for run in runs:
        if merged and merged[-1][2] == run[2]:
            merged[-1] = (merged[-1][0], run[1], run[2])
        else:
            merged.append(run)
    return merged


def _word_cuts(segment: TranscribedSegment, changes: list[tuple[float, str]]) -> list[_Cut] | None:
    """Each change at the gap between words nearest to it; None without word times that match
    the text."""
    words = segment.words
    spans = find_in_order(segment.text, [text.strip() for _, _, text in words]) if words else None
    if not spans:
        return None
    # Gap k lies before word k: gap 0 is the first word's start, gap n the last one's end.
    gaps = [words[0][0]]
    gaps += [(before[1] + after[0]) / 2 for before, after in itertools.pairwise(words)]
    gaps.append(words[-1][1])
    offsets = [start for start, _ in spans] + [len(segment.text)]
    cuts = []
    for at, speaker in changes:
        gap = min(range(len(gaps)), key=lambda k: abs(gaps[k] - at))
        if 0 < gap < len(words):
            # The turn's own time, kept between the two words' times.
            before_end, after_start = words[gap - 1][1], words[gap][0]
            at = min(max(at, before_end), after_start) if before_end <= after_start else at
        cuts.append((offsets[gap], at, speaker))
    return cuts


def _proportional_cuts(segment: TranscribedSegment, changes: list[tuple[float, str]]) -> list[_Cut]:
    """Each change at the unit that starts nearest to where it falls in the text, the text
    taken to run evenly through the segment."""
    text = segment.text
    starts = [start for start, _ in unit_spans(text)[1:]] or [len(text)]
    duration = segment.end - segment.start
    cuts = []
    for at, speaker in changes:
        where = len(text) * (at - segment.start) / duration if duration > 0 else 0.0
        cuts.append((min(starts, key=lambda start: abs(start - where)), at, speaker))
    return cuts


def _parts(segment: TranscribedSegment, cuts: list[_Cut]) -> list[TranscribedSegment]:
    """The segment cut at `cuts` (the first at offset 0 and its start): a speaker whose part
    holds no text gives way to the next one, and parts of one speaker in a row stay one."""
    kept: list[_Cut] = []
    for offset, at, speaker in cuts:
        if kept and offset <= kept[-1][0]:
            offset, at = kept.pop()[:2]  # the speaker before got no text
        if kept and offset >= len(segment.text):
            break
        if not kept or kept[-1][2] != speaker:
            kept.append((offset, round(at, 3), speaker))
    ends = [(offset, at) for offset, at, _ in kept[1:]] + [(len(segment.text), segment.end)]
    parts = []
    for (offset, start, speaker), (next_offset, end) in zip(kept, ends, strict=True):
        text = segment.text[offset:next_offset].strip()
        words = tuple(w for w in segment.words if start <= (w[0] + w[1]) / 2 <= end)
        if text:
            parts.append(
                TranscribedSegment(start=start, end=end, text=text, speaker=speaker, words=words)
            )
    return parts
