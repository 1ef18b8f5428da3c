"""Whisper base (int8, CPU) batched across jobs gives exactly the text of one clip at a time."""

from typing import Any

import numpy as np
import pytest
import torch

from gpu_engine.backends import backend_for
from gpu_engine.batcher import Batcher, batcher_for
from gpu_engine.types import EngineConfig, JobOptions, TranscriptResult
from tests.audio_files import speech
from tests.engine.conftest import ProgressLog, start_jobs_together, transcribe_alone

# Four 30 s windows in all: two clips, one, one. One job detects its languages, one asks for
# traditional Mandarin, one for English.
THREE_JOBS = [
    (speech("en_two_cities_44s.wav"), JobOptions(model="whisper-base")),
    (speech("zh_funasr_asr_example.wav"), JobOptions(model="whisper-base", language="zh-TW")),
    (speech("en_librispeech_1995-1837-0001.wav"), JobOptions(model="whisper-base", language="en")),
]


@pytest.fixture(scope="module")
def batcher(engine_config: EngineConfig) -> Batcher:
    return batcher_for(backend_for("whisper-base", engine_config, ProgressLog()), engine_config)


@pytest.fixture(scope="module")
def one_at_a_time(engine_config: EngineConfig, batcher: Batcher) -> list[TranscriptResult]:
    """Each of THREE_JOBS alone, one clip (one 30 s window) per model call."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(batcher, "batch_seconds", 30.0)
        return [transcribe_alone(path, options, engine_config) for path, options in THREE_JOBS]


@pytest.mark.slow
def test_jobs_batched_together_get_exactly_the_text_of_one_clip_at_a_time(
    engine_config: EngineConfig, batcher: Batcher, one_at_a_time: list[TranscriptResult]
) -> None:
    batcher.recent.clear()

    batched = [future.result() for future in start_jobs_together(THREE_JOBS, engine_config)]

    assert batched == one_at_a_time
    assert [r.language for r in batched] == ["en", "zh-TW", "en"]
    assert "歡迎" in batched[1].text
    assert any(len(set(record.jobs)) > 1 for record in batcher.recent)


@pytest.mark.slow
def test_out_of_gpu_memory_is_recovered_by_halving_the_batch(
    engine_config: EngineConfig,
    batcher: Batcher,
    one_at_a_time: list[TranscriptResult],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    encode = batcher.backend.model.encode

    def only_one_fits(features: np.ndarray) -> Any:
        if len(features) > 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.5 GiB")
        return encode(features)

    monkeypatch.setattr(batcher.backend.model, "encode", only_one_fits)
    monkeypatch.setattr(batcher, "batch_seconds", batcher.batch_seconds)  # restored afterwards
    batcher.recent.clear()

    result = transcribe_alone(*THREE_JOBS[0], engine_config)

    assert result == one_at_a_time[0]
    # Its two clips: together they fail, then each alone succeeds.
    assert [len(record.jobs) for record in batcher.recent] == [2, 1, 1]
    assert (
        "Out of GPU memory on a batch of 2 clips (60 s of audio); freed 0 MiB of cached memory, "
        "retrying as batches of 1 and 1 clips; batches are now limited to 30 s of audio"
    ) in caplog.text

    # The next job's batches stay within what fitted: no failed attempt first.
    caplog.clear()
    assert transcribe_alone(*THREE_JOBS[0], engine_config) == one_at_a_time[0]
    assert [len(record.jobs) for record in batcher.recent] == [2, 1, 1, 1, 1]
    assert "Out of GPU memory" not in caplog.text


def test_whisper_rows_with_hotwords_are_batched_apart(batcher: Batcher) -> None:
    backend = batcher.backend
    clip = np.zeros(16000, dtype=np.float32)

    plain = backend.prepare(clip, JobOptions(model="whisper-base"))
    english = backend.prepare(clip, JobOptions(model="whisper-base", language="en"))
    hinted = backend.prepare(clip, JobOptions(model="whisper-base", hotwords=("Voxa", "FunASR")))

    # CTranslate2 decodes a batch only if <|startoftranscript|> is at one place in every prompt.
    assert plain.group == english.group == 0
    assert hinted.group > 0
    assert plain.detect_language and not english.detect_language
