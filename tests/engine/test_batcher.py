"""Cross-job batching on the tiny Paraformer: shared batches, cancels, failures, out of memory."""

import difflib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

from gpu_engine.audio import SAMPLE_RATE
from gpu_engine.backends import backend_for
from gpu_engine.batcher import (
    Batcher,
    Request,
    batcher_for,
    batcher_report,
    choose_batch,
    is_out_of_memory,
)
from gpu_engine.pipeline import transcribe_file
from gpu_engine.types import EngineConfig, EngineError, JobCancelled, JobOptions, TranscriptResult
from tests.audio_files import speech
from tests.engine.conftest import (
    TINY_PARAFORMER,
    ProgressLog,
    never,
    start_jobs_together,
    transcribe_alone,
)

TINY = JobOptions(model=TINY_PARAFORMER)
# Clips after VAD: 12 of 1.5-17 s; 5 of 3-13 s; 1 of 5 s.
THREE_JOBS = [
    (speech("long_pauses_70s.wav"), TINY),
    (speech("en_two_cities_44s.wav"), TINY),
    (speech("zh_funasr_asr_example.wav"), TINY),
]


@dataclass(frozen=True)
class Item:
    cost_s: float
    group: str = "g"

    @property
    def seconds(self) -> float:
        return self.cost_s


def queue(job: int, *costs: float, group: str = "g") -> list[Request]:
    return [
        Request(job=job, index=index, clip=Item(cost, group)) for index, cost in enumerate(costs)
    ]


def costs(batch: list[Request]) -> list[tuple[int, float]]:
    return [(r.job, r.clip.cost_s) for r in batch]


def test_jobs_take_turns_clip_by_clip_within_the_budget() -> None:
    # Whisper-like: every clip costs a 30 s window.
    batch = choose_batch([queue(1, 30, 30, 30), queue(2, 30), queue(3, 30, 30)], budget_s=120)

    assert costs(batch) == [(1, 30), (2, 30), (3, 30), (1, 30)]


def test_clips_close_in_length_to_the_leader_join_it_to_cut_padding() -> None:
    # The batch costs its longest clip times its size.
    batch = choose_batch([queue(1, 10, 30), queue(2, 2, 9), queue(3, 11)], budget_s=40)

    # 11 and 9 are as close to 10: the turn order decides.
    assert costs(batch) == [(1, 10), (3, 11), (2, 9)]


def test_only_clips_of_the_leaders_group_join_it() -> None:
    batch = choose_batch([queue(1, 5, group="en"), queue(2, 5, group="zh")], budget_s=100)

    assert costs(batch) == [(1, 5)]


def test_a_clip_over_the_budget_still_goes_alone() -> None:
    assert costs(choose_batch([queue(1, 50, 5)], budget_s=20)) == [(1, 50)]


def test_gpu_out_of_memory_is_recognised_from_torch_and_ctranslate2() -> None:
    assert is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory."))
    assert is_out_of_memory(RuntimeError("CUDA failed with error out of memory"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert not is_out_of_memory(MemoryError())


@pytest.fixture(scope="module")
def batcher(engine_config: EngineConfig) -> Batcher:
    return batcher_for(backend_for(TINY_PARAFORMER, engine_config, ProgressLog()), engine_config)


@pytest.fixture(scope="module")
def one_at_a_time(engine_config: EngineConfig, batcher: Batcher) -> list[TranscriptResult]:
    """Each of THREE_JOBS alone, one clip per model call (a leader over budget goes alone)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(batcher, "batch_seconds", 0.1)
        return [transcribe_alone(path, options, engine_config) for path, options in THREE_JOBS]


def assert_same_up_to_noise(batched: TranscriptResult, alone: TranscriptResult) -> None:
    """Same segments, times within a tolerance; the text itself may differ where the random
    model's scores are so flat that the batch's padding flips a character (and with it a token
    time)."""
    assert [(s.start, s.end) for s in batched.segments] == [
        (pytest.approx(s.start, abs=0.1), pytest.approx(s.end, abs=0.1)) for s in alone.segments
    ]
    matching = difflib.SequenceMatcher(None, batched.text, alone.text).ratio()
    assert matching >= 0.9


def test_jobs_share_batches_and_get_their_own_results(
    engine_config: EngineConfig, batcher: Batcher, one_at_a_time: list[TranscriptResult]
) -> None:
    batcher.recent.clear()

    futures = start_jobs_together(THREE_JOBS, engine_config)

    for future, alone in zip(futures, one_at_a_time, strict=True):
        assert_same_up_to_noise(future.result(), alone)
    assert any(len(set(record.jobs)) > 1 for record in batcher.recent)


@pytest.fixture
def model_calls(batcher: Batcher, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict]]:
    """Each generate() call the batcher makes: its inputs and options."""
    calls: list[dict] = []
    generate = batcher.backend.model.generate

    def recording(**kwargs: Any) -> list[dict]:
        calls.append(kwargs)
        return generate(**kwargs)

    monkeypatch.setattr(batcher.backend.model, "generate", recording)
    yield calls


ErrorFor = Callable[[dict], Exception | None]


@pytest.fixture
def fail_model_calls(
    batcher: Batcher, monkeypatch: pytest.MonkeyPatch
) -> Callable[[ErrorFor], None]:
    """fail_model_calls(error): the model raises error(kwargs) in the calls where it is not None.

    The batcher's budget, which an out-of-memory error lowers, is restored afterwards."""
    generate = batcher.backend.model.generate
    monkeypatch.setattr(batcher, "batch_seconds", batcher.batch_seconds)

    def failing_when(error: ErrorFor) -> None:
        def failing(**kwargs: Any) -> list[dict]:
            if (raised := error(kwargs)) is not None:
                raise raised
            return generate(**kwargs)

        monkeypatch.setattr(batcher.backend.model, "generate", failing)

    return failing_when


def longest_input_s(kwargs: dict) -> float:
    return max(len(audio) for audio in kwargs["input"]) / SAMPLE_RATE


def test_a_job_whose_segment_alone_does_not_fit_fails_while_the_other_succeeds(
    engine_config: EngineConfig,
    one_at_a_time: list[TranscriptResult],
    fail_model_calls: Callable[[ErrorFor], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # long_pauses_70s.wav has one 17 s clip; the other file's clips are all under 14 s.
    fail_model_calls(
        lambda kwargs: (
            torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
            if longest_input_s(kwargs) > 15
            else None
        ),
    )

    failing, fitting = start_jobs_together(THREE_JOBS[:2], engine_config)

    with pytest.raises(EngineError, match="One 17-second segment does not fit in GPU memory"):
        failing.result()
    assert_same_up_to_noise(fitting.result(), one_at_a_time[1])
    # Whether the 17 s clip first failed among others (and the batch was halved) depends on how
    # the two jobs' clips met; alone, it always fails.
    assert "Out of GPU memory on a single clip: One 17-second segment" in caplog.text


def test_an_error_in_one_batch_fails_only_the_jobs_in_it(
    engine_config: EngineConfig,
    one_at_a_time: list[TranscriptResult],
    fail_model_calls: Callable[[ErrorFor], None],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Jobs asking for different languages never share a call.
    mandarin = JobOptions(model=TINY_PARAFORMER, language="zh")
    fail_model_calls(
        lambda kwargs: (
            RuntimeError("shapes [3, 80] and [4, 80] do not match")
            if kwargs["language"] == "zh"
            else None
        ),
    )

    failed, done = start_jobs_together(
        [(speech("long_pauses_70s.wav"), mandarin), THREE_JOBS[2]], engine_config
    )

    with pytest.raises(EngineError, match=r"^Recognition failed: shapes \[3, 80\]"):
        failed.result()
    assert_same_up_to_noise(done.result(), one_at_a_time[2])
    assert "Recognition failed on a batch" in caplog.text
    monkeypatch.undo()
    # The batcher's thread lives on.
    assert transcribe_alone(*THREE_JOBS[2], engine_config).segments


def test_a_job_cancelled_while_its_clips_wait_stops_and_they_never_run(
    engine_config: EngineConfig,
    batcher: Batcher,
    model_calls: list[dict],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first_batch_running = threading.Event()
    release = threading.Event()
    generate = batcher.backend.model.generate

    def held_first(**kwargs: Any) -> list[dict]:
        if not first_batch_running.is_set():
            first_batch_running.set()
            release.wait(timeout=60)
        return generate(**kwargs)

    monkeypatch.setattr(batcher.backend.model, "generate", held_first)
    progress = ProgressLog()
    cancelled = threading.Event()
    try:
        running = start_jobs_together([THREE_JOBS[2]], engine_config)[0]
        assert first_batch_running.wait(timeout=60)
        waiting = ThreadPoolExecutor(1).submit(
            transcribe_file,
            *THREE_JOBS[1],
            engine_config,
            on_progress=progress,
            should_cancel=cancelled.is_set,
        )
        while "transcribing" not in progress.stages:  # its clips go to the batcher next
            time.sleep(0.01)
        time.sleep(0.1)
        cancelled.set()
        # It stops while the model is still busy with the other job's batch.
        with pytest.raises(JobCancelled):
            waiting.result(timeout=5)
    finally:
        release.set()

    assert running.result().segments
    assert [len(call["input"]) for call in model_calls] == [1]


def test_each_result_comes_back_to_its_own_clip(batcher: Batcher) -> None:
    rng = np.random.default_rng(0)
    audio = [
        rng.standard_normal(seconds * SAMPLE_RATE).astype(np.float32) * 0.1 for seconds in (3, 7, 5)
    ]
    clips = [batcher.backend.prepare(samples, TINY) for samples in audio]

    results = dict(batcher.results(clips, should_cancel=lambda: False))

    # The text ends with the clip's speech (token times may run a little past its end).
    assert [results[index].pieces[-1][1] for index in range(3)] == [
        pytest.approx(seconds, abs=0.25) for seconds in (3, 7, 5)
    ]


def noise_clips(batcher: Batcher, *seconds: float) -> list:
    rng = np.random.default_rng(0)
    return [
        batcher.backend.prepare(
            rng.standard_normal(round(s * SAMPLE_RATE)).astype(np.float32) * 0.1, TINY
        )
        for s in seconds
    ]


def test_out_of_memory_halves_the_budget_and_the_batch_is_retried_complete(
    batcher: Batcher, fail_model_calls: Callable[[ErrorFor], None]
) -> None:
    clips = noise_clips(batcher, 3, 3, 3, 3)
    batcher.batch_seconds = 12.0  # the four clips in one call
    alone = [result for _, result in sorted(batcher.results(clips, should_cancel=never))]
    # The model fits at most 6 s of audio a call: the first batch of four fails.
    fail_model_calls(
        lambda kwargs: (
            torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
            if len(kwargs["input"]) * longest_input_s(kwargs) > 6.5
            else None
        )
    )
    events_before = batcher.oom_events
    batcher.recent.clear()

    results = dict(batcher.results(clips, should_cancel=never))

    assert [results[index] for index in range(4)] == alone
    assert [len(record.jobs) for record in batcher.recent] == [4, 2, 2]
    assert batcher.oom_events == events_before + 1
    assert batcher.batch_seconds == 6.0
    assert {"model": TINY_PARAFORMER, "batch_seconds": 6.0, "oom_events": batcher.oom_events} in (
        batcher_report()
    )

    # Later batches keep to the halved budget: no failed call first.
    batcher.recent.clear()
    assert dict(batcher.results(clips, should_cancel=never)) == results
    assert [len(record.jobs) for record in batcher.recent] == [2, 2]
    assert batcher.oom_events == events_before + 1


def test_a_closed_batcher_ends_its_thread(batcher: Batcher) -> None:
    closing = Batcher(batcher.backend, batch_seconds=batcher.batch_seconds, name="closing")

    closing.close()

    assert "batcher-closing" not in {thread.name for thread in threading.enumerate()}
