"""Transcript exports: TXT, CSV, SRT, VTT, JSON and DOCX, built from a job's stored segments
(as edited) and the names its speakers were given. A transcript without speakers exports as it
always has; with them, each format says who spoke in its own way."""

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
from itertools import groupby

import docx
import srt
from django.utils import timezone

from gpu_engine.types import join_texts
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
# What XML 1.0 (and so a .docx) cannot hold: python-docx refuses text with any of these.
XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# Spreadsheet programs read a CSV as the local code page unless it starts with this mark:
# Excel would show Chinese as mojibake.
UTF8_BOM = "\ufeff"


@dataclass(frozen=True)
class Export:
    content: str | bytes
    content_type: str
    extension: str


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str
    # Who spoke it (the name shown); blank without speakers.
    speaker: str = ""


@dataclass(frozen=True)
class Turn:
    """Consecutive segments of one speaker, as one paragraph."""

    start: float
    end: float
    speaker: str
    text: str


@dataclass(frozen=True)
class Transcript:
    job: Job
    segments: Sequence[Segment]
    # Speaker label -> the name shown (the label where none was given), in order of first
    # appearance; empty when the speakers were not identified.
    names: dict[str, str]

    def name_of(self, segment: Segment) -> str:
        return self.names.get(segment.speaker, "")

    def turns(self) -> list[Turn]:
        return [
            Turn(group[0].start, group[-1].end, name, join_texts(s.text for s in group))
            for name, grouped in groupby(self.segments, key=self.name_of)
            if (group := list(grouped))
        ]


def export_job(job: Job, fmt: str) -> Export:
    builder, content_type = FORMATS[fmt]
    return Export(builder(transcript_of(job)), content_type, fmt)


def transcript_of(job: Job) -> Transcript:
    segments = list(job.segments.all())
    names: dict[str, str] = {}
    for segment in segments:
        if segment.speaker and segment.speaker not in names:
            given = job.speaker_names.get(segment.speaker) or segment.speaker
            names[segment.speaker] = _one_line(given) or segment.speaker
    return Transcript(job, segments, names)


def _one_line(name: str) -> str:
    # A name is typed by people: no line breaks or control characters may break a cue or a row.
    return " ".join("".join(c if c.isprintable() else " " for c in name).split())


def as_txt(t: Transcript) -> str:
    if not t.names:
        return "".join(f"{s.text}\n" for s in t.segments)
    return "\n".join(f"[{_clock(turn.start)}] {_said(turn)}\n" for turn in t.turns())


def _said(turn: Turn) -> str:
    return f"{turn.speaker}: {turn.text}" if turn.speaker else turn.text


def as_csv(t: Transcript) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if not t.names:
        writer.writerow(["start", "end", "text"])
        for s in t.segments:
            writer.writerow([f"{s.start:.3f}", f"{s.end:.3f}", neutralise_formula(s.text)])
        return out.getvalue()
    writer.writerow(["start", "end", "start_s", "end_s", "speaker", "text"])
    for s in t.segments:
        writer.writerow(
            [
                _clock_ms(s.start),
                _clock_ms(s.end),
                f"{s.start:.3f}",
                f"{s.end:.3f}",
                neutralise_formula(t.name_of(s)),
                neutralise_formula(s.text),
            ]
        )
    return UTF8_BOM + out.getvalue()


def neutralise_formula(cell: str) -> str:
    return f"'{cell}" if cell.startswith(FORMULA_PREFIXES) else cell


def as_srt(t: Transcript) -> str:
    cues = subtitle_cues(t, clean=_subrip_text, name_in_text=True)
    subtitles = [
        srt.Subtitle(
            index=i,
            start=timedelta(seconds=cue.start),
            end=timedelta(seconds=cue.end),
            content=cue.text,
        )
        for i, cue in enumerate(cues, start=1)
    ]
    return srt.compose(subtitles, reindex=False)


def as_vtt(t: Transcript) -> str:
    blocks = ["WEBVTT\n"]
    for cue in subtitle_cues(t):
        text = html.escape(cue.text, quote=False)  # WebVTT cue text: &, < and > as entities
        if cue.speaker:
            text = f"<v {html.escape(cue.speaker, quote=False)}>{text}</v>"
        blocks.append(f"{_clock_ms(cue.start)} --> {_clock_ms(cue.end)}\n{text}\n")
    return "\n".join(blocks)


def _subrip_text(text: str) -> str:
    """SubRip has no escapes (its readers show "&lt;" as typed), so markup a transcript holds is
    left out rather than escaped: no player may act on it. A lone < or & is not markup and is
    kept; a segment that held nothing but markup makes no cue."""
    lines = (SUBRIP_MARKUP.sub("", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def subtitle_cues(
    t: Transcript, *, clean: Callable[[str], str] = str, name_in_text: bool = False
) -> list[Cue]:
    """Readable cues: split at sentence ends, at most MAX_CUE_S long and two lines of
    MAX_LINE_CHARS; text that cannot break the file; times that never go backwards. A cue is
    cut from one segment, so it never spans a change of speaker. `clean` takes out what the
    format may not carry (from names too); `name_in_text` starts each cue's text with "Name: "
    (SubRip has no other way to say who speaks)."""
    cues: list[Cue] = []
    previous_start = 0.0
    for segment in t.segments:
        speaker = _cue_text(clean(t.name_of(segment)))
        prefix = f"{speaker}: " if speaker and name_in_text else ""
        text = _cue_text(clean(segment.text))
        pieces = _split_segment(segment.start, segment.end, text, len(prefix))
        for start, end, text in pieces:
            start = max(start, previous_start)
            cues.append(Cue(start, max(end, start + MIN_CUE_S), _wrap(prefix + text), speaker))
            previous_start = start
    return cues


def _split_segment(
    start: float, end: float, text: str, reserved: int = 0
) -> list[tuple[float, float, str]]:
    """`reserved`: characters of each cue's two lines taken by something else (a name)."""
    pieces = []
    for sentence in (s for s in SENTENCE_END.split(text) if s.strip()):
        pieces.extend(_pack(sentence.strip(), max(MAX_LINE_CHARS, MAX_LINE_CHARS * 2 - reserved)))
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


def _clock(seconds: float) -> str:
    """hh:mm:ss, as a paragraph's time."""
    return _clock_ms(seconds)[:8]


def _clock_ms(seconds: float) -> str:
    """hh:mm:ss.mmm, as WebVTT writes times."""
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def as_json(t: Transcript) -> str:
    job = t.job
    document = {
        "job": job.pk,
        "recording": job.recording.name,
        "model": job.model,
        "language": job.detected_language,
        "duration": job.recording.duration_s,
        "text": job.text,
        "segments": [{"start": s.start, "end": s.end, "text": s.text} for s in t.segments],
    }
    if t.names:
        document["speakers"] = t.names
        for entry, segment in zip(document["segments"], t.segments, strict=True):
            entry.update(speaker=segment.speaker, speaker_name=t.name_of(segment))
    return json.dumps(document, ensure_ascii=False, indent=2)


def as_docx(t: Transcript) -> bytes:
    """A document to hand on: the recording's name, date, length and speakers, then the
    transcript a paragraph a turn (a segment a paragraph without speakers), each with its time."""
    recording = t.job.recording
    document = docx.Document()
    document.core_properties.title = _xml_text(recording.name)
    document.add_heading(_xml_text(recording.name), level=1)
    duration = recording.duration_s or (t.segments[-1].end if t.segments else 0)
    facts = [
        ("Date", f"{timezone.localtime(recording.created_at):%Y-%m-%d}"),
        ("Duration", _clock(duration)),
    ]
    if t.names:
        facts.append(("Speakers", ", ".join(t.names.values())))
    for label, value in facts:
        paragraph = document.add_paragraph()
        paragraph.add_run(f"{label}: ").bold = True
        paragraph.add_run(_xml_text(value))
    turns = t.turns() if t.names else [Turn(s.start, s.end, "", s.text) for s in t.segments]
    for turn in turns:
        paragraph = document.add_paragraph()
        heading = f"[{_clock(turn.start)}] {turn.speaker}".rstrip()
        paragraph.add_run(f"{_xml_text(heading)} ").bold = True
        paragraph.add_run(_xml_text(turn.text))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _xml_text(text: str) -> str:
    return XML_INVALID.sub("", text)


FORMATS: dict[str, tuple[Callable[[Transcript], str | bytes], str]] = {
    "txt": (as_txt, "text/plain; charset=utf-8"),
    "csv": (as_csv, "text/csv; charset=utf-8"),
    "srt": (as_srt, "application/x-subrip; charset=utf-8"),
    "vtt": (as_vtt, "text/vtt; charset=utf-8"),
    "json": (as_json, "application/json"),
    "docx": (as_docx, DOCX_TYPE),
}
