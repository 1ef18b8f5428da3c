"""Transcript exports: TXT, CSV, SRT, VTT and JSON, built from a job's stored segments."""

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import srt

from transcription.models import Job, Segment

# OWASP: a spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\0")
# Cues shorter than this are stretched so a player shows them at all.
MIN_CUE_S = 0.2


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
    subtitles = [
        srt.Subtitle(
            index=i,
            start=timedelta(seconds=cue.start),
            end=timedelta(seconds=cue.end),
            content=cue.text,
        )
        for i, cue in enumerate(subtitle_cues(segments), start=1)
    ]
    return srt.compose(subtitles, reindex=False)


def as_vtt(job: Job, segments: Sequence[Segment]) -> str:
    blocks = ["WEBVTT\n"]
    for cue in subtitle_cues(segments):
        blocks.append(f"{_vtt_time(cue.start)} --> {_vtt_time(cue.end)}\n{cue.text}\n")
    return "\n".join(blocks)


def subtitle_cues(segments: Sequence[Segment]) -> list[Cue]:
    """Cues whose text cannot break the file and whose times never go backwards."""
    cues: list[Cue] = []
    previous_start = 0.0
    for s in segments:
        text = _cue_text(s.text)
        if not text:
            continue
        start = max(s.start, previous_start)
        end = max(s.end, start + MIN_CUE_S)
        cues.append(Cue(start, end, text))
        previous_start = start
    return cues


def _cue_text(text: str) -> str:
    # A blank line ends a cue and "-->" starts a timing line: neither may appear in text.
    lines = (line.strip() for line in text.replace("-->", "->").splitlines())
    return "\n".join(line for line in lines if line)


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
