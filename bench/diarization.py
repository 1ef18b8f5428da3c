"""Who spoke when: diarization error rate, speaker-count accuracy, and what diarization adds to a
job's wall time beside recognition's, on the multi-speaker recordings the tests build. See
bench/README.md.

    .venv/bin/python -m bench.diarization --json diarization.json
"""

import argparse
import datetime
import json
import logging
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.engine_throughput import REPO, _cores, _limit_threads
from gpu_engine.diarization import diarize
from gpu_engine.pipeline import transcribe_file
from gpu_engine.types import EngineConfig, JobOptions
from gpu_engine.vad import detect_speech
from tests.audio_files import write_audio
from tests.scoring import diarization_error_rate
from tests.speaker_recordings import SpeakerRecording, joined, speaker_recordings

RECOGNISER = "whisper-base"  # the packaged weights: no download


@dataclass
class FileResult:
    name: str
    audio_s: float
    speakers: int
    found: int
    der: float
    diarization_s: float
    recognition_s: float


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    _limit_threads(args.threads)
    config = EngineConfig(
        model_sources={},
        cache_dir=args.models_dir,
        device=args.device,
        cpu_threads=args.threads,
        vad_processes=0,
    )
    recordings = speaker_recordings()
    recordings.append(joined(recordings))
    with tempfile.TemporaryDirectory(prefix="voxa-diarization-") as folder:
        paths = [_as_wav(r, Path(folder)) for r in recordings]
        _run_file(recordings[0], paths[0], config, args)  # loads and warms up both models
        results = [_run_file(r, p, config, args) for r, p in zip(recordings, paths, strict=True)]
    _print(results, args)
    if args.json:
        args.json.write_text(json.dumps(_report(results, args), indent=1))
        print(f"Wrote {args.json}")
    return 0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    parser.add_argument(
        "--threads", type=int, default=_cores(), help="CPU threads (default: cores)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="time each file this many times, keep the fastest"
    )
    parser.add_argument("--models-dir", type=Path, default=REPO / "data" / "models")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args(argv)


def _as_wav(recording: SpeakerRecording, folder: Path) -> Path:
    path = folder / f"{recording.name}.wav"
    return write_audio(path, recording.audio, rate=16000, container="wav", codec="pcm_s16le")


def _run_file(
    recording: SpeakerRecording, path: Path, config: EngineConfig, args: argparse.Namespace
) -> FileResult:
    """The job's recognition (decoding, speech detection, recognition: transcribe_file) and its
    diarization over the same speech, each timed alone, the fastest of --repeat runs."""
    options = JobOptions(model=RECOGNISER)
    recognition = min(
        _timed(
            lambda: transcribe_file(path, options, config, on_progress=_quiet, should_cancel=_no)
        )
        for _ in range(args.repeat)
    )
    speech = detect_speech(recording.audio, threads=args.threads)
    diarization = min(
        _timed(lambda: diarize(recording.audio, speech, config=config)) for _ in range(args.repeat)
    )
    turns = diarize(recording.audio, speech, config=config)
    hypothesis = [(t.start, t.end, t.speaker) for t in turns]
    return FileResult(
        name=recording.name,
        audio_s=recording.seconds,
        speakers=recording.speakers,
        found=len({t.speaker for t in turns}),
        der=diarization_error_rate(recording.reference, hypothesis),
        diarization_s=diarization,
        recognition_s=recognition,
    )


def _timed(work: Any) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _quiet(*_: object) -> None:
    pass


def _no() -> bool:
    return False


def _totals(results: list[FileResult]) -> dict[str, float]:
    minutes = sum(r.audio_s for r in results) / 60
    diarization = sum(r.diarization_s for r in results)
    recognition = sum(r.recognition_s for r in results)
    return {
        "audio_minutes": minutes,
        "count_accuracy": sum(r.found == r.speakers for r in results) / len(results),
        "diarization_s_per_minute": diarization / minutes,
        "recognition_s_per_minute": recognition / minutes,
        "added_to_job_wall_time": diarization / recognition,
    }


def _print(results: list[FileResult], args: argparse.Namespace) -> None:
    print(f"device {args.device}, {args.threads} threads, fastest of {args.repeat} runs")
    print(
        f"{'file':16} {'audio s':>7} {'speakers':>8} {'found':>5} {'DER':>6} {'diar s':>7} "
        f"{'recog s':>7}"
    )
    for r in results:
        print(
            f"{r.name:16} {r.audio_s:7.1f} {r.speakers:8d} {r.found:5d} {r.der:6.3f} "
            f"{r.diarization_s:7.2f} {r.recognition_s:7.2f}"
        )
    totals = _totals(results)
    print(
        f"speaker count right: {totals['count_accuracy']:.0%}; per minute of audio: diarization "
        f"{totals['diarization_s_per_minute']:.2f} s, recognition ({RECOGNISER}) "
        f"{totals['recognition_s_per_minute']:.2f} s; diarization adds "
        f"{totals['added_to_job_wall_time']:.1%} to the job's wall time (target <= 15%)"
    )


def _report(results: list[FileResult], args: argparse.Namespace) -> dict[str, Any]:
    return {
        "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.diarization", *sys.argv[1:]]),
        "machine": {"platform": platform.platform(), "cores": _cores(), "device": args.device},
        "files": [asdict(r) for r in results],
        "totals": _totals(results),
    }


if __name__ == "__main__":
    sys.exit(main())
