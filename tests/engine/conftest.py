"""Engine fixtures: no database, real models, a model cache kept between runs."""

import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from gpu_engine.pipeline import transcribe_file
from gpu_engine.types import CancelCheck, EngineConfig, JobOptions, TranscriptResult
from tests.tiny_models import build_tiny_paraformer

# Kept between runs so that whisper-base is joined and the tiny model built only once.
MODELS_DIR = Path(__file__).resolve().parents[2] / "data" / "test-models"
TINY_PARAFORMER = "tiny-paraformer"


class ProgressLog:
    """An on_progress callback that remembers every report."""

    def __init__(self) -> None:
        self.reports: list[tuple[str, float, str]] = []

    def __call__(self, stage: str, percent: float, message: str) -> None:
        self.reports.append((stage, percent, message))

    @property
    def stages(self) -> list[str]:
        stages: list[str] = []
        for stage, _, _ in self.reports:
            if not stages or stages[-1] != stage:
                stages.append(stage)
        return stages


def never() -> bool:
    return False


class GatheredProgress(ProgressLog):
    """Holds its job where transcription starts until every job of the barrier got there, so that
    their clips reach the batcher at the same time, as those of a busy worker do."""

    def __init__(self, barrier: threading.Barrier) -> None:
        super().__init__()
        self.barrier = barrier

    def __call__(self, stage: str, percent: float, message: str) -> None:
        super().__call__(stage, percent, message)
        if stage == "transcribing" and message.startswith("0 of "):
            self.barrier.wait(timeout=120)


def start_jobs_together(
    jobs: Sequence[tuple[Path, JobOptions]],
    config: EngineConfig,
    should_cancel: Sequence[CancelCheck] = (),
) -> list[Future[TranscriptResult]]:
    """transcribe_file for each (path, options) in a thread of its own, as the worker's thread
    pool runs jobs; their clips reach the batcher together."""
    barrier = threading.Barrier(len(jobs))
    cancels = list(should_cancel) or [never] * len(jobs)
    pool = ThreadPoolExecutor(len(jobs), thread_name_prefix="job")
    futures = [
        pool.submit(
            transcribe_file,
            path,
            options,
            config,
            on_progress=GatheredProgress(barrier),
            should_cancel=cancel,
        )
        for (path, options), cancel in zip(jobs, cancels, strict=True)
    ]
    pool.shutdown(wait=False)
    return futures


def transcribe_alone(path: Path, options: JobOptions, config: EngineConfig) -> TranscriptResult:
    return transcribe_file(path, options, config, on_progress=ProgressLog(), should_cancel=never)


@pytest.fixture(scope="session")
def tiny_paraformer_dir() -> Path:
    return build_tiny_paraformer(MODELS_DIR / TINY_PARAFORMER)


@pytest.fixture(scope="session")
def engine_config(tiny_paraformer_dir: Path) -> EngineConfig:
    return EngineConfig(
        model_sources={TINY_PARAFORMER: str(tiny_paraformer_dir)},
        cache_dir=MODELS_DIR,
        device="cpu",
    )
