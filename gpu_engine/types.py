"""The engine's contract with the rest of the portal: options in, segments out, typed errors."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from gpu_engine.stages import Stage


@dataclass(frozen=True)
class EngineConfig:
    """Where models come from and how to run them; built from Django settings by the worker."""

    model_sources: dict[str, str]
    cache_dir: Path
    # Preset -> punctuation model, over presets.BUILTIN_PUNCTUATION_SOURCES.
    punctuation_sources: dict[str, str] = field(default_factory=dict)
    device: str = "auto"
    dtype: str = "fp16"
    max_segment_s: float = 30.0
    max_audio_s: float = 6 * 3600.0
    # Threads for CPU inference; 0 means every core this process may use.
    cpu_threads: int = 0
    # Audio seconds one model call may take, clips from all jobs together; a Whisper clip costs a
    # whole 30 s window. 0 picks a default for the device (see device.batch_seconds).
    batch_seconds: float = 0.0
    # Processes finding speech for the jobs; None: one per core up to 4 (see
    # vad.detection_processes), 0: each job finds its own in its thread.
    vad_processes: int | None = None
    # Who spoke when: "resemblyzer" (its weights ship in its wheel) or "campplus" (FunASR's CAM++,
    # downloaded from the hub on first use); see gpu_engine.diarization.
    speaker_model: str = "resemblyzer"


@dataclass(frozen=True)
class JobOptions:
    model: str
    language: str = "auto"
    hotwords: tuple[str, ...] = ()
    itn: bool = True
    # Who spoke when (gpu_engine.diarization), with the count of speakers if known or its bounds.
    speakers: bool = False
    num_speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None


@dataclass(frozen=True)
class TranscribedSegment:
    start: float
    end: float
    text: str
    speaker: str = ""  # a label "S1", "S2"... when speakers were identified
    # Its timed words, (start, end, text) in file time, where speakers were asked for and the
    # model gave them: where a speaker's turn divides the segment.
    words: tuple[tuple[float, float, str], ...] = field(default=(), repr=False, compare=False)


@dataclass(frozen=True)
class TranscriptResult:
    language: str
    segments: list[TranscribedSegment] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def text(self) -> str:
        return join_texts(s.text for s in self.segments)


def join_texts(texts: Iterable[str]) -> str:
    """Segment texts as one transcript: a space between words, none between CJK characters."""
    joined = ""
    for text in (t.strip() for t in texts):
        if not text:
            continue
        if joined and not (_is_cjk(joined[-1]) and _is_cjk(text[0])):
            joined += " "
        joined += text
    return joined


def _is_cjk(char: str) -> bool:
    # CJK ideographs, kana, hangul and their punctuation: scripts written without spaces.
    return (
        "\u3000" <= char <= "\u9fff" or "\uac00" <= char <= "\ud7af" or "\uff00" <= char <= "\uffef"
    )


ProgressCallback = Callable[[Stage, float, str], None]
CancelCheck = Callable[[], bool]


class EngineError(Exception):
    """A failure whose message is shown to the user as the job's reason."""


class AudioDecodeError(EngineError):
    pass


class AudioTooLongError(EngineError):
    pass


class ModelUnavailableError(EngineError):
    pass


class JobCancelled(Exception):
    """Raised between segments when the user cancelled the job."""
