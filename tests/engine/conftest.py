"""Engine fixtures: no database, real models, a model cache kept between runs."""

from pathlib import Path

import pytest

from gpu_engine.types import EngineConfig
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
