"""Transcript exports: TXT, CSV, SRT, VTT and JSON, built from a job's stored segments."""

import csv
import html
import io
import json
import math
import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import srt

from transcription.models import Job, Segment

# OWASP: a spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\0")
# Cues shorter than this are stretched so a player shows them at all.
MIN_CUE_S = 0.2
# Subtitle conventions: at most about 7 s on screen and 42 characters a line, two lines a cue.
MAX_CUE_S = 7.0
MAX_LINE_CHARS = 42
SENTENCE_END = re.compile(r"(?<=[.!?。！？；;…])\s*")
BREAK_AFTER = re.compile(r"(?<=[,，、:：\s])")
# What SubRip readers act on as markup: HTML-like tags (<i>, <font color=...>) and the ASS
# override or MicroDVD style blocks that FFmpeg, mpv and VLC honour ({\an8}, {y:i}).
SUBRIP_MARKUP = re.compile(r"<[^<>]*>|\{(?:\\|[CcFfoPSsYy]:)[^{}]*\}")


@dataclass(frozen=True)
class Export:
    content: str
    content_type: str
    extension: str


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


def export_job(job: Job, fmt: str) -> Export:
    segments = list(job.segments.all())
    builder, content_type = FORMATS[fmt]
    return Export(builder(job, segments), content_type, fmt)


def as_txt(job: Job, segments: Sequence[Segment]) -> str:
    return "".join(f"{s.text}\n" for s in segments)


def as_csv(job: Job, segments: Sequence[Segment]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["start", "end", "text"])
    for s in segments:
        writer.writerow([f"{s.start:.3f}", f"{s.end:.3f}", neutralise_formula(s.text)])
    return out.getvalue()


def neutralise_formula(cell: str) -> str:
    return f"'{cell}" if cell.startswith(FORMULA_PREFIXES) else cell


def as_srt(job: Job, segments: Sequence[Segment]) -> str:
    cues = [(cue, _subrip_text(cue.text)) for cue in subtitle_cues(segments)]
    subtitles = [
        srt.Subtitle(
            index=i,
            start=timedelta(seconds=cue.start),
            end=timedelta(seconds=cue.end),
            content=text,
        )
        for i, (cue, text) in enumerate([(cue, text) for cue, text in cues if text], start=1)
    ]
    return srt.compose(subtitles, reindex=False)


def as_vtt(job: Job, segments: Sequence[Segment]) -> str:
    blocks = ["WEBVTT\n"]
    for cue in subtitle_cues(segments):
        text = html.escape(cue.text, quote=False)  # WebVTT cue text: &, < and > as entities
        blocks.append(f"{_vtt_time(cue.start)} --> {_vtt_time(cue.end)}\n{text}\n")
    return "\n".join(blocks)


def _subrip_text(text: str) -> str:
    """SubRip has no escapes (its readers show "&lt;" as typed), so markup a transcript holds is
    left out rather than escaped: no player may act on it. A lone < or & is not markup and is
    kept; a cue that held nothing but markup is dropped."""
    lines = (SUBRIP_MARKUP.sub("", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def subtitle_cues(segments: Sequence[Segment]) -> list[Cue]:
    """Readable cues: split at sentence ends, at most MAX_CUE_S long and two lines of
    MAX_LINE_CHARS; text that cannot break the file; times that never go backwards."""
    cues: list[Cue] = []
    previous_start = 0.0
    for segment in segments:
        for start, end, text in _split_segment(segment.start, segment.end, _cue_text(segment.text)):
            start = max(start, previous_start)
            cues.append(Cue(start, max(end, start + MIN_CUE_S), _wrap(text)))
            previous_start = start
    return cues


def _split_segment(start: float, end: float, text: str) -> list[tuple[float, float, str]]:
    pieces = []
    for sentence in (s for s in SENTENCE_END.split(text) if s.strip()):
        pieces.extend(_pack(sentence.strip(), MAX_LINE_CHARS * 2))
    # Without word times, a piece's share of the segment follows its share of the characters;
    # pieces over MAX_CUE_S are packed again, smaller.
    timed = _allot(start, end, pieces)
    result = []
    for piece_start, piece_end, piece in timed:
        parts = math.ceil((piece_end - piece_start) / MAX_CUE_S)
        if parts > 1 and len(piece) > 1:
            smaller = _pack(piece, max(1, math.ceil(len(piece) / parts)))
            result.extend(_allot(piece_start, piece_end, smaller))
        else:
            result.append((piece_start, piece_end, piece))
    return result


def _pack(text: str, limit: int) -> list[str]:
    """Greedy packing of clause- or word-sized tokens into pieces of at most `limit` characters."""
    tokens = []
    for token in BREAK_AFTER.split(text):
        tokens.extend(token[i : i + limit] for i in range(0, len(token), limit))
    pieces, current = [], ""
    for token in tokens:
        if current and len(current) + len(token.rstrip()) > limit:
            pieces.append(current.strip())
            current = ""
        current += token
    if current.strip():
        pieces.append(current.strip())
    return pieces


def _allot(start: float, end: float, pieces: list[str]) -> list[tuple[float, float, str]]:
    total = sum(len(p) for p in pieces) or 1
    timed, cursor = [], start
    for piece in pieces:
        piece_end = cursor + (end - start) * len(piece) / total
        timed.append((cursor, piece_end, piece))
        cursor = piece_end
    return timed


def _wrap(text: str) -> str:
    return "\n".join(
        wrapped
        for line in text.splitlines()
        for wrapped in textwrap.wrap(line, MAX_LINE_CHARS, break_on_hyphens=False)
    )


def _cue_text(text: str) -> str:
    # A blank line ends a cue and "-->" starts a timing line: neither may appear in text.
    lines = (line.strip() for line in text.replace("-->", "->").splitlines())
    return " ".join(line for line in lines if line)


def _vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def as_json(job: Job, segments: Sequence[Segment]) -> str:
    document = {
        "job": job.pk,
        "recording": job.recording.name,
        "model": job.model,
        "language": job.detected_language,
        "duration": job.recording.duration_s,
        "text": job.text,
        "segments": [{"start": s.start, "end": s.end, "text": s.text} for s in segments],
    }
    return json.dumps(document, ensure_ascii=False, indent=2)


FORMATS: dict[str, tuple[Callable[[Job, Sequence[Segment]], str], str]] = {
    "txt": (as_txt, "text/plain; charset=utf-8"),
    "csv": (as_csv, "text/csv; charset=utf-8"),
    "srt": (as_srt, "application/x-subrip; charset=utf-8"),
    "vtt": (as_vtt, "text/vtt; charset=utf-8"),
    "json": (as_json, "application/json"),
}
